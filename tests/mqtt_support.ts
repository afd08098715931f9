/**
 * Support of the MQTT end-to-end tests: Debian's `mosquitto_pub`/`mosquitto_sub` run as
 * child processes, a raw MQTT client over TCP (packets built and read by `mqtt-packet`,
 * not by the node's code) for what the command-line clients cannot do (never read, never
 * CONNECT, hold PUBACKs back, be dropped without DISCONNECT), and raw WebSocket frames.
 * @module
 */
import { Buffer } from "node:buffer";
import mqtt from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { F, msg, pb, type PbField, type PbMessage, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";

export type { Packet };

const enc = new TextEncoder();

/** What a command-line client printed and how it ended. */
export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `mosquitto_pub` (or another tool) to completion, killed after `timeoutMs`. */
export async function runTool(
  tool: string,
  args: string[],
  timeoutMs = 10_000,
): Promise<ToolResult> {
  const child = new Deno.Command(tool, { args, stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A `mosquitto_sub` running in the background; `result` once it exits. */
export class Sub {
  readonly child: Deno.ChildProcess;
  readonly result: Promise<ToolResult>;
  #stdout = "";

  /** Starts `mosquitto_sub` with `args` (it is killed after `timeoutMs`). */
  constructor(args: string[], timeoutMs = 15_000) {
    const child = new Deno.Command("mosquitto_sub", { args, stdout: "piped", stderr: "piped" })
      .spawn();
    this.child = child;
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, timeoutMs);
    const dec = new TextDecoder();
    const reading = (async () => {
      for await (const chunk of child.stdout) this.#stdout += dec.decode(chunk);
    })();
    this.result = (async () => {
      const stderr = new Response(child.stderr).text();
      const status = await child.status;
      clearTimeout(timer);
      await reading;
      return { code: status.code, stdout: this.#stdout, stderr: await stderr };
    })();
  }

  /** What it printed so far. */
  get stdout(): string {
    return this.#stdout;
  }

  /** Waits until its output contains `text`. */
  async until(text: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#stdout.includes(text)) {
      if (Date.now() > deadline) throw new Error(`mosquitto_sub never printed '${text}'`);
      await sleep(20);
    }
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A raw MQTT client over TCP. */
export class RawMqtt {
  readonly conn: Deno.TcpConn;
  readonly received: Packet[] = [];
  closed = false;
  readonly #parser;
  readonly #version: number;
  #reading: Promise<void> | null = null;

  private constructor(conn: Deno.TcpConn, version: number) {
    this.conn = conn;
    this.#version = version;
    this.#parser = mqtt.parser({ protocolVersion: version });
    this.#parser.on("packet", (p: Packet) => this.received.push(p));
  }

  /** Opens a TCP connection (no CONNECT yet); `read: false` never reads from it. */
  static async open(port: number, version = 4, read = true): Promise<RawMqtt> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const c = new RawMqtt(conn, version);
    if (read) c.#reading = c.#readLoop();
    return c;
  }

  /** Opens, sends CONNECT and waits for the CONNACK. */
  static async connect(
    port: number,
    connect: Record<string, unknown> = {},
    version = 4,
  ): Promise<RawMqtt> {
    const c = await RawMqtt.open(port, version);
    await c.send({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: version,
      clean: true,
      clientId: `raw-${crypto.randomUUID().slice(0, 8)}`,
      keepalive: 0,
      ...connect,
    } as Packet);
    await c.next("connack");
    return c;
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.#parser.parse(Buffer.from(buf.slice(0, n)));
      }
    } catch { /* reset */ }
    this.closed = true;
  }

  /** Sends a packet. */
  async send(packet: Packet): Promise<void> {
    await this.write(mqtt.generate(packet, { protocolVersion: this.#version }));
  }

  /** Writes raw bytes. */
  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
  }

  /** Publishes (QoS 0 unless given). */
  publish(topic: string, payload: string | Uint8Array, extra: Record<string, unknown> = {}) {
    return this.send({
      cmd: "publish",
      topic,
      payload: Buffer.from(typeof payload === "string" ? enc.encode(payload) : payload),
      qos: 0,
      retain: false,
      dup: false,
      ...extra,
    } as Packet);
  }

  /** Waits for the next packet of `cmd` not yet taken, and takes it. */
  async next(cmd: string, timeoutMs = 5000): Promise<Packet & Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const i = this.received.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return this.received.splice(i, 1)[0] as Packet & Record<string, unknown>;
      if (this.closed) throw new Error(`connection closed while waiting for ${cmd}`);
      if (Date.now() > deadline) throw new Error(`no ${cmd} within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  /** Waits until the node closed the connection; throws after `timeoutMs`. */
  async untilClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("the node did not close the connection");
      await sleep(10);
    }
  }

  /** Drops the TCP connection without DISCONNECT. */
  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }

  /** Waits for the read loop to end (after `close`). */
  async done(): Promise<void> {
    await this.#reading;
  }
}

/** A WebSocket client speaking raw protobuf frames (not our SDK), greeted. */
export async function wsClient(wsUrl: string, token = ""): Promise<RawSocket> {
  const ws = await RawSocket.open(wsUrl, "arqon.v1.proto");
  const hello: PbField[] = [[1, "ws-test"], [2, 1]];
  if (token) hello.push([4, token]);
  ws.send(pb([[F.hello, hello]]));
  await ws.wait(F.welcome);
  return ws;
}

/** A subscribe frame (with a correlation id, answered by `subscribed`). */
export function wsSubscribe(id: number, pattern: string, reality = ""): Uint8Array {
  const fields: PbField[] = [[1, id]];
  if (reality) fields.push([2, reality]);
  fields.push([3, pattern], [12, id]);
  return pb([[F.subscribe, fields]]);
}

/** A publish frame acknowledged on receipt. */
export function wsPublish(
  correlationId: number,
  topic: string,
  payload: string | Uint8Array,
  reality = "",
): Uint8Array {
  const pulse: PbField[] = [[3, topic], [
    11,
    typeof payload === "string" ? enc.encode(payload) : payload,
  ]];
  if (reality) pulse.push([5, reality]);
  return pb([[F.publish, [[1, correlationId], [2, 1], [3, pulse]]]]);
}

/** Topic and payload text of the deliveries a raw socket received. */
export function deliveries(ws: RawSocket): string[] {
  return ws.of(F.deliver).map((d: PbMessage) => {
    const pulse = msg(d, 2);
    return `${str(pulse, 3)} ${str(pulse, 11)}`;
  });
}

export { F };
