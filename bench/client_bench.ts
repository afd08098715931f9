/**
 * `deno task bench:client`: what publishing costs the TypeScript client itself, as CPU time
 * per pulse of the publishing process, with nothing else in that process. The client talks
 * to a sink (its own process, on the server CPU) that welcomes it and discards every byte,
 * so the figure is the client's alone and the node's speed does not enter it. 1 KB pulses
 * without acks, over `ws://` (our socket, `noDelay`: framed and masked by the client) and
 * `tcp://`. `--baseline <dir>`: the client of another checkout (e.g.
 * `git worktree add --detach /tmp/base main`, protocol types generated) measured in the
 * same run, alternating rounds, with the ratio new / baseline.
 *
 *   deno task bench:client [--pulses 30000] [--rounds 15] [--baseline <dir>]
 * @module
 */
import { helpFromHeader } from "../scripts/task_cli.ts";
import { parseArgs } from "node:util";
import process from "node:process";
import { encodeFrame } from "../runtime/protocol/mod.ts";
import { acceptKey, readHttpHead, writeAll } from "../runtime/transport/websocket/mod.ts";
import { CAN_PIN, LOAD_CPU, SERVER_CPU, spawnScript } from "./support.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pulses: { type: "string", default: "30000" },
    rounds: { type: "string", default: "15" },
    baseline: { type: "string" },
    role: { type: "string" },
  },
});

const WELCOME = encodeFrame({
  welcome: { nodeId: "sink", protocolVersion: 1, sessionId: "sink", maxFrameBytes: 1 << 20 },
});

/** `--role sink`: welcomes each connection (WebSocket on one port, raw TCP on another), then discards. */
async function sink(): Promise<void> {
  const ws = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const portOf = (l: Deno.Listener) => (l.addr as Deno.NetAddr).port;
  console.log(`${portOf(ws)} ${portOf(tcp)}`);
  const discard = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(256 * 1024);
    try {
      while ((await conn.read(buf)) !== null) { /* discard */ }
    } catch { /* closed */ }
  };
  (async () => {
    for await (const conn of tcp) {
      await writeAll(conn, Uint8Array.of(0, 0, 0, WELCOME.length, ...WELCOME));
      discard(conn);
    }
  })();
  for await (const conn of ws) {
    (async () => {
      const [head] = await readHttpHead(conn, 8192);
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)![1];
      const reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${await acceptKey(key)}\r\n` +
        "Sec-WebSocket-Protocol: arqon.v1.proto\r\n\r\n";
      await writeAll(conn, new TextEncoder().encode(reply));
      await writeAll(conn, Uint8Array.of(0x82, WELCOME.length, ...WELCOME));
      await discard(conn);
    })();
  }
}

type Client = {
  publish(topic: string, payload: Uint8Array, options: { ack: "none" }): unknown;
  drain(lowWaterBytes?: number): Promise<void>;
  close(): Promise<void>;
};
type Connect = (url: string, options: Record<string, unknown>) => Promise<Client>;

/** CPU µs per pulse of this process while `pulses` 1 KB pulses are published. */
async function cpuPerPulse(connect: Connect, url: string, pulses: number): Promise<number> {
  const client = await connect(url, { noDelay: true, reportConsumed: false });
  const payload = new Uint8Array(1024);
  const cpu = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const t0 = cpu();
  for (let sent = 0; sent < pulses; sent += 256) {
    for (let i = 0; i < 256; i++) client.publish("bench.client.data", payload, { ack: "none" });
    // Pace like a publisher should: let the socket take what was written.
    await client.drain(1 << 20);
  }
  await client.drain(0);
  const us = (cpu() - t0) / pulses;
  await client.close();
  return us;
}

if (values.role === "sink") {
  await sink();
} else {
  const pulses = Number(values.pulses);
  const rounds = Number(values.rounds);
  const child = spawnScript(
    new URL(import.meta.url).pathname,
    ["--role", "sink"],
    CAN_PIN ? SERVER_CPU : null,
  );
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const [wsPort, tcpPort] = (await reader.read()).value!.trim().split(" ").map(Number);
  if (CAN_PIN) {
    await new Deno.Command("taskset", { args: ["-pc", LOAD_CPU, String(Deno.pid)], stdout: "null" })
      .output();
  }
  const ours: Connect = (await import("../mod.ts")).ArqonClient.connect as Connect;
  const base: Connect | null = values.baseline
    ? (await import(`${values.baseline.replace(/\/$/, "")}/mod.ts`)).ArqonClient.connect
    : null;
  console.log(
    `client CPU per 1 KB publish (ack none), ${pulses} pulses a round, ${rounds} rounds; ` +
      `load average ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
  );
  try {
    for (const scheme of ["ws", "tcp"]) {
      const url = scheme === "ws" ? `ws://127.0.0.1:${wsPort}/v1/ws` : `tcp://127.0.0.1:${tcpPort}`;
      const got: { ours: number[]; base: number[] } = { ours: [], base: [] };
      await cpuPerPulse(ours, url, pulses / 4); // warm-up
      if (base) await cpuPerPulse(base, url, pulses / 4);
      for (let r = 0; r < rounds; r++) {
        got.ours.push(await cpuPerPulse(ours, url, pulses));
        if (base) got.base.push(await cpuPerPulse(base, url, pulses));
      }
      // The least CPU of the rounds: on a shared machine, other processes only ever add
      // (cache and frequency interference), so the best round is the closest to the cost.
      const a = Math.min(...got.ours);
      const line = `${scheme.padEnd(4)} this client ${a.toFixed(3)} µs per pulse`;
      if (!base) console.log(line);
      else {
        const b = Math.min(...got.base);
        console.log(`${line}   baseline ${b.toFixed(3)} µs   ratio ${(a / b).toFixed(2)}x`);
      }
    }
  } finally {
    child.kill();
    await child.status;
  }
  Deno.exit(0);
}
