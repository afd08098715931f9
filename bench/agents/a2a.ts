/**
 * Issue 16 benchmark (c): an A2A `SendMessage` round trip through the bus against a direct
 * HTTP call to the same agent logic, in one run.
 *
 * - bus: an A2A client (`fetch`, JSON-RPC 2.0) POSTs to the node's
 *   `/v1/realities/default/agents/shout/a2a`; the node publishes the message as a request
 *   on `agent.shout.a2a`; the agent, a bus client (our SDK, `noDelay`), runs the logic and
 *   publishes its reply to the inbox; the node answers the JSON-RPC call with the task.
 * - direct: the same client POSTs the same body to an HTTP server (`Deno.serve`) in the
 *   agent's process that runs the same logic and answers a task of the same shape.
 * - bus request (reference): the same agent through the node's plain HTTP request/reply
 *   (`POST /v1/realities/default/request/agent.shout.a2a` with the message as body), so
 *   the A2A layer's own cost shows apart from the node's HTTP POST path.
 *
 * The node runs as a child process pinned to CPU 1, the client and the agent here on CPU
 * 0 (when the machine has two). Sequential calls (one in flight), blocks of each side
 * interleaved so drift hits both. Prints p50/p99 of each and their ratio.
 *
 * Usage: `deno run -A bench/agents/a2a.ts [calls=2000]`
 * @module
 */
import { ArqonClient } from "../../mod.ts";
import { CAN_PIN, SERVER_CPU, startNodeProcess } from "../support.ts";
import { helpFromHeader } from "../../scripts/task_cli.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The agent logic both sides run: the first text part, upper-cased, as an agent message. */
function shout(message: { parts: { text?: string }[] }): Record<string, unknown> {
  return {
    messageId: crypto.randomUUID(),
    role: "ROLE_AGENT",
    parts: [{ text: (message.parts[0].text ?? "").toUpperCase() }],
  };
}

/** A direct A2A endpoint on HTTP running `shout`, answering the task the node would. */
function directServer(): { url: string; close: () => Promise<void> } {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const call = await req.json();
    const message = call.params.message;
    const id = crypto.randomUUID();
    const contextId = crypto.randomUUID();
    const reply = { ...shout(message), taskId: id, contextId };
    return Response.json({
      jsonrpc: "2.0",
      id: call.id,
      result: {
        task: {
          id,
          contextId,
          status: {
            state: "TASK_STATE_COMPLETED",
            message: reply,
            timestamp: new Date().toISOString(),
          },
          artifacts: [],
          history: [{ ...message, taskId: id, contextId }, reply],
        },
      },
    });
  });
  return { url: `http://127.0.0.1:${server.addr.port}/a2a`, close: () => server.shutdown() };
}

/** The agent on the bus: answers each request on agent.shout.a2a with `shout`. */
async function busAgent(wsUrl: string): Promise<ArqonClient> {
  const client = await ArqonClient.connect(wsUrl, { name: "shout", noDelay: true });
  const sub = client.subscribe("agent.shout.a2a");
  await sub.ready;
  (async () => {
    for await (const pulse of sub) {
      if (!pulse.replyTo) continue;
      const message = JSON.parse(dec.decode(pulse.payload!));
      client.publish(pulse.replyTo, enc.encode(JSON.stringify(shout(message))), {
        ack: "none",
        contentType: "application/json",
      });
    }
  })();
  return client;
}

function body(i: number): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id: i,
    method: "SendMessage",
    params: { message: { messageId: `m${i}`, role: "ROLE_USER", parts: [{ text: `hello ${i}` }] } },
  });
}

/** `n` sequential calls to `url`; each call's round trip in µs. */
async function run(url: string, n: number, from: number, plain = false): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    // The plain request carries the message alone; the answer is the agent's message.
    const sent = plain ? JSON.stringify(JSON.parse(body(from + i)).params.message) : body(from + i);
    const t0 = performance.now();
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: sent,
    });
    const json = await res.json();
    out.push((performance.now() - t0) * 1000);
    const text = plain
      ? json.parts?.[0]?.text
      : json.result?.task?.status?.message?.parts?.[0]?.text;
    if (text !== `HELLO ${from + i}`) {
      throw new Error(`wrong answer: ${JSON.stringify(json).slice(0, 200)}`);
    }
  }
  return out;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

/** Runs the comparison; returns the figures printed. */
export async function benchA2a(calls = 2000): Promise<Record<string, number>> {
  const node = await startNodeProcess(["--memory"], CAN_PIN ? SERVER_CPU : null);
  const agent = await busAgent(node.wsUrl);
  const direct = directServer();
  const busUrl = `${node.httpUrl}/v1/realities/default/agents/shout/a2a`;
  const requestUrl = `${node.httpUrl}/v1/realities/default/request/agent.shout.a2a`;
  try {
    await run(busUrl, 200, 0);
    await run(direct.url, 200, 0);
    await run(requestUrl, 200, 0, true);
    const bus: number[] = [];
    const http: number[] = [];
    const request: number[] = [];
    const blocks = 4;
    const per = Math.ceil(calls / blocks);
    for (let b = 0; b < blocks; b++) {
      bus.push(...await run(busUrl, per, 1000 + b * per));
      http.push(...await run(direct.url, per, 1000 + b * per));
      request.push(...await run(requestUrl, per, 1000 + b * per, true));
    }
    const figures = {
      calls: bus.length,
      bus_p50_us: Math.round(percentile(bus, 0.5)),
      bus_p99_us: Math.round(percentile(bus, 0.99)),
      direct_p50_us: Math.round(percentile(http, 0.5)),
      direct_p99_us: Math.round(percentile(http, 0.99)),
      request_p50_us: Math.round(percentile(request, 0.5)),
      request_p99_us: Math.round(percentile(request, 0.99)),
    };
    const ratio = {
      p50_ratio: +(figures.bus_p50_us / figures.direct_p50_us).toFixed(2),
      p99_ratio: +(figures.bus_p99_us / figures.direct_p99_us).toFixed(2),
    };
    return { ...figures, ...ratio };
  } finally {
    await direct.close();
    await agent.close();
    await node.stop();
  }
}

if (import.meta.main) {
  const calls = Number(Deno.args[0] ?? 2000);
  const f = await benchA2a(calls);
  console.log(`A2A SendMessage round trip, ${f.calls} sequential calls each (pinned: ${CAN_PIN})`);
  console.log(`  through the bus : p50 ${f.bus_p50_us} µs  p99 ${f.bus_p99_us} µs`);
  console.log(`  direct HTTP     : p50 ${f.direct_p50_us} µs  p99 ${f.direct_p99_us} µs`);
  console.log(`  bus / direct    : p50 ${f.p50_ratio}x  p99 ${f.p99_ratio}x`);
  console.log(
    `  reference, the node's HTTP request/reply to the same agent: ` +
      `p50 ${f.request_p50_us} µs  p99 ${f.request_p99_us} µs`,
  );
  console.log("These figures are from one run.");
}
