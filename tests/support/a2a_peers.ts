/**
 * The two sides of A2A tests, neither using our SDK: an agent on the bus as a raw
 * protobuf WebSocket client (hello with a name, subscribe to `agent.<name>.a2a`, answer
 * each request by publishing to its `reply_to`), and an A2A client written from the
 * specification (JSON-RPC 2.0 over `fetch`, SSE parsed from the response bytes).
 * @module
 */
import { F, frames, msg, pb, type PbField, type PbMessage, str, unpb } from "./pb.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A request the agent received. */
export interface AgentRequest {
  readonly topic: string;
  readonly replyTo: string;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;
}

/** One reply: its JSON payload and headers. */
export interface AgentReply {
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

/** What the agent answers to a request (nothing: it stays silent). */
export type AgentLogic = (req: AgentRequest) => AgentReply[] | Promise<AgentReply[]>;

function headersOf(pulse: PbMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of pulse.get(9) ?? []) {
    const [k, v] = decodeEntry(entry as Uint8Array);
    out[k] = v;
  }
  return out;
}

function decodeEntry(bytes: Uint8Array): [string, string] {
  // A map entry is a message {1: key, 2: value}.
  const fields = unpb(bytes);
  return [str(fields, 1), str(fields, 2)];
}

/** An agent on the bus over a raw WebSocket. */
export class RawAgent {
  /** Requests received, in order. */
  readonly requests: AgentRequest[] = [];
  readonly #ws: WebSocket;
  #logic: AgentLogic;
  #correlation = 1;

  private constructor(ws: WebSocket, logic: AgentLogic) {
    this.#ws = ws;
    this.#logic = logic;
  }

  /**
   * Connects as `name` (with `card` and `token` when given) and, unless `subscribe` is
   * false, answers on `agent.<name>.a2a` in `reality`: with a token, `name` must be its
   * subject (the producer id the node gives the session). Resolves once subscribed.
   */
  static async start(
    wsUrl: string,
    name: string,
    logic: AgentLogic,
    options: { reality?: string; card?: unknown; subscribe?: boolean; token?: string } = {},
  ): Promise<RawAgent> {
    const ws = new WebSocket(wsUrl, "arqon.v1.proto");
    ws.binaryType = "arraybuffer";
    const agent = new RawAgent(ws, logic);
    const seen: [number, PbMessage][] = [];
    let wake = () => {};
    ws.onmessage = (e) => {
      for (const f of frames(new Uint8Array(e.data as ArrayBuffer))) {
        if (f[0] === F.deliver) agent.#deliver(msg(f[1], 2));
        seen.push(f);
      }
      wake();
    };
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("agent websocket failed"));
    });
    const until = async (kind: number) => {
      const deadline = Date.now() + 5000;
      while (!seen.some(([k]) => k === kind || k === F.error)) {
        if (Date.now() > deadline) throw new Error(`agent: no frame ${kind}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
      const err = seen.find(([k]) => k === F.error);
      if (err) throw new Error(`agent refused: ${str(err[1], 2)}`);
    };
    const hello: PbField[] = [[1, name], [2, 1]];
    if (options.token) hello.push([4, options.token]);
    if (options.card !== undefined) hello.push([33, JSON.stringify(options.card)]);
    ws.send(pb([[F.hello, hello]]));
    await until(F.welcome);
    if (options.subscribe !== false) {
      const sub: PbField[] = [[1, 1]];
      if (options.reality) sub.push([2, options.reality]);
      sub.push([3, `agent.${name}.a2a`]);
      ws.send(pb([[F.subscribe, sub]]));
      await until(F.subscribed);
    }
    return agent;
  }

  /** Replaces what the agent answers. */
  set logic(logic: AgentLogic) {
    this.#logic = logic;
  }

  async #deliver(pulse: PbMessage): Promise<void> {
    const req: AgentRequest = {
      topic: str(pulse, 3),
      replyTo: str(pulse, 16),
      headers: headersOf(pulse),
      body: JSON.parse(dec.decode((pulse.get(11)?.[0] as Uint8Array) ?? new Uint8Array())),
    };
    this.requests.push(req);
    if (!req.replyTo) return;
    const reality = str(pulse, 5);
    for (const reply of await this.#logic(req)) this.publish(req.replyTo, reply, reality);
  }

  /** Publishes one reply pulse to `topic`. */
  publish(topic: string, reply: AgentReply, reality = ""): void {
    const payload = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
    const fields: PbField[] = [[3, topic], [10, "application/json"], [11, enc.encode(payload)]];
    if (reality) fields.push([5, reality]);
    for (const [k, v] of Object.entries(reply.headers ?? {})) fields.push([9, [[1, k], [2, v]]]);
    this.#ws.send(pb([[F.publish, [[1, this.#correlation++], [2, 0], [3, fields]]]]));
  }

  /** Closes the connection. */
  close(): void {
    this.#ws.close();
  }
}

/** A JSON-RPC 2.0 request body. */
export function rpcBody(method: string, params?: unknown, id: unknown = 1): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method,
    ...(params !== undefined ? { params } : {}),
  });
}

/** A user message with one text part. */
export function userMessage(
  text: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { messageId: crypto.randomUUID(), role: "ROLE_USER", parts: [{ text }], ...extra };
}

/** POSTs a JSON-RPC body; returns the status and the parsed answer. */
export async function rpc(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: res.status, json: await res.json() };
}

/**
 * POSTs a streaming call and reads the SSE stream to its end (the server closes it after
 * the final event), parsing events as the SSE specification frames them.
 */
export async function rpcStream(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; contentType: string; events: Record<string, unknown>[] }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", ...headers },
    body,
  });
  const contentType = res.headers.get("content-type") ?? "";
  const text = await res.text();
  if (!contentType.startsWith("text/event-stream")) {
    return { status: res.status, contentType, events: [JSON.parse(text)] };
  }
  const events: Record<string, unknown>[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).replace(/^ /, "")).join("\n");
    if (data) events.push(JSON.parse(data));
  }
  return { status: res.status, contentType, events };
}
