/**
 * Fuzzing: mutated protobuf and JSON frames, random WebSocket frame headers and random
 * HTTP requests against one node, from a seeded PRNG (the seed replays the run). The node
 * must never crash, every error it answers must be typed (a code other than UNSPECIFIED
 * or INTERNAL; over HTTP the `{"error":{"code"}}` body), and its RSS stays bounded.
 * Cases are counted by outcome.
 * @module
 */
import { concat, F, frames, pb, type PbField } from "../../support/pb.ts";
import { clientFrame, type NodeChild, type RawTcpWs, startNodeChild } from "../support.ts";
import {
  count,
  ERROR_NAMES,
  newResult,
  prng,
  quietClose,
  RssSampler,
  type ScenarioResult,
} from "./common.ts";
import { closeCodeOf, FrameReader } from "./wire.ts";

/** Options of the fuzz scenario. */
export interface FuzzOptions {
  /** PRNG seed; the same seed sends the same cases. */
  readonly seed: number;
  /** Stop after this many cases. @default Infinity */
  readonly cases?: number;
  /** Stop after this many seconds. @default Infinity */
  readonly seconds?: number;
  /** RSS ceiling, MB. @default 400 */
  readonly ceilingMb?: number;
}

/** A code that says what went wrong (UNSPECIFIED and INTERNAL say nothing to the client). */
function typed(code: string): boolean {
  const bare = code.replace(/^ERROR_CODE_/, "");
  return bare !== "" && bare !== "UNSPECIFIED" && bare !== "INTERNAL";
}

const enc = new TextEncoder();
const ANSWER_MS = 3000;
// How long a header case waits for an answer before calling the connection "waiting".
const WAIT_MS = 150;

/** Runs the fuzz scenario on a fresh node. */
export async function fuzzScenario(options: FuzzOptions): Promise<ScenarioResult> {
  const result = newResult("fuzz", options.ceilingMb ?? 400);
  const started = Date.now();
  const node = await startNodeChild();
  const rss = new RssSampler(() => node.pid);
  const fuzz = new Fuzzer(node, prng(options.seed), result);
  const outcomes: Record<string, number> = {};
  const maxCases = options.cases ?? Infinity;
  const deadline = started + (options.seconds ?? Infinity) * 1000;
  let cases = 0;
  try {
    while (cases < maxCases && Date.now() < deadline && node.alive()) {
      const pick = fuzz.random();
      const outcome = pick < 0.4
        ? await fuzz.protoCase()
        : pick < 0.6
        ? await fuzz.jsonCase()
        : pick < 0.85
        ? await fuzz.headerCase()
        : await fuzz.httpCase();
      count(outcomes, outcome);
      cases++;
    }
  } finally {
    await fuzz.close();
  }
  if (!node.alive()) result.violations.push(`the node died after ${cases} cases`);
  result.peakRss = rss.stop();
  if (result.peakRss > result.ceiling) result.violations.push("RSS over its ceiling");
  await node.stop();
  result.seconds = (Date.now() - started) / 1000;
  const byKind: Record<string, number> = {};
  for (const [k, v] of Object.entries(outcomes)) count(byKind, k.split(" ")[0], v);
  result.notes.push(
    `seed 0x${options.seed.toString(16)}, ${cases} cases`,
    Object.entries(outcomes).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${v}`)
      .join(", "),
  );
  if (fuzz.invalidCloses) result.notes.push(`invalid close codes sent: ${fuzz.invalidCloses}`);
  return result;
}

/** One connection per subprotocol, reopened after the node closes it. */
class Fuzzer {
  readonly random: () => number;
  readonly #node: NodeChild;
  readonly #result: ScenarioResult;
  #proto: [RawTcpWs, FrameReader] | null = null;
  #json: [RawTcpWs, FrameReader] | null = null;
  #nonce = 1;
  /** Close frames from the node carrying a code RFC 6455 forbids on the wire. */
  invalidCloses = 0;

  constructor(node: NodeChild, random: () => number, result: ScenarioResult) {
    this.#node = node;
    this.random = random;
    this.#result = result;
  }

  #int(n: number): number {
    return Math.floor(this.random() * n);
  }

  #bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.#int(256);
    return out;
  }

  #pick<T>(items: readonly T[]): T {
    return items[this.#int(items.length)];
  }

  #violation(what: string): void {
    if (this.#result.violations.length < 20) this.#result.violations.push(what);
  }

  #error(code: string, via: string): void {
    if (!typed(code)) this.#violation(`untyped error ${code || "(none)"} via ${via}`);
    count(this.#result.errors, code.replace(/^ERROR_CODE_/, ""));
  }

  /** Byte-level mutations of a valid encoding. */
  #mutate(bytes: Uint8Array): Uint8Array {
    let out: Uint8Array = Uint8Array.from(bytes);
    const rounds = 1 + this.#int(4);
    for (let r = 0; r < rounds; r++) {
      const m = this.#int(6);
      if (m === 0 && out.length) out[this.#int(out.length)] ^= 1 << this.#int(8);
      else if (m === 1) out = out.slice(0, this.#int(out.length + 1));
      else if (m === 2) out = concat(out, this.#bytes(1 + this.#int(16)));
      else if (m === 3 && out.length) {
        out[this.#int(out.length)] = this.#pick([0, 0x7f, 0x80, 0xff]);
      } else if (m === 4) {
        const at = this.#int(out.length + 1);
        out = concat(out.slice(0, at), this.#bytes(1 + this.#int(8)), out.slice(at));
      } else out = this.#bytes(this.#int(64));
    }
    return out;
  }

  #protoTemplate(): Uint8Array {
    const topic = this.#pick(["fz.a", "fz.b.c", "fz.>", "*", "", "a..b", "x".repeat(300)]);
    const reality = this.#pick(["", "default", "fz", "Bad Reality", "r".repeat(100)]);
    const pulse: PbField[] = [[3, topic], [11, this.#bytes(this.#int(64))], [5, reality]];
    const kinds: PbField[][] = [
      [[F.publish, [[1, this.#int(1000)], [2, this.#int(4)], [3, pulse]]]],
      [[F.subscribe, [[1, this.#int(50)], [3, topic], [2, reality], [5, this.#int(5)]]]],
      [[F.unsubscribe, [[1, this.#int(50)]]]],
      [[F.hello, [[1, "fuzz"], [2, this.#int(3)]]]],
      [[F.ping, [[1, this.#int(1 << 30)]]]],
      [[F.request, [[1, this.#int(1000)], [2, pulse], [3, this.#int(100)]]]],
      [[F.credit, [[1, this.#int(50)], [2, this.#int(1000)]]]],
      [[F.batch, [[1, pb([[F.ping, [[1, 3]]]])], [1, pb([[F.publish, [[3, pulse]]]])]]]],
      [[this.#int(40), this.#bytes(this.#int(20))]],
    ];
    return pb(this.#pick(kinds));
  }

  /** A mutated protobuf frame, then a ping: answered by a typed error, a pong or a close. */
  async protoCase(): Promise<string> {
    this.#proto ??= await FrameReader.open(this.#node.port);
    const [ws, reader] = this.#proto;
    const body = this.random() < 0.15 ? this.#protoTemplate() : this.#mutate(this.#protoTemplate());
    const nonce = this.#nonce++;
    await ws.write(clientFrame(0x2, body));
    await ws.write(clientFrame(0x2, pb([[F.ping, [[1, nonce]]]])));
    let outcome = "proto accepted";
    while (true) {
      const ev = await reader.next(ANSWER_MS);
      if (ev.kind === "timeout") {
        this.#violation(`proto case ${nonce}: no answer in ${ANSWER_MS} ms`);
        outcome = "proto unanswered";
        break;
      }
      if (ev.kind === "eof" || ev.opcode === 0x8) {
        outcome = ev.kind === "eof" ? "proto eof" : `proto close ${closeCodeOf(ev.payload)}`;
        break;
      }
      if (ev.opcode !== 0x2) continue;
      let got: ReturnType<typeof frames>;
      try {
        got = frames(ev.payload);
      } catch {
        this.#violation(`proto case ${nonce}: undecodable server frame`);
        continue;
      }
      let ponged = false;
      for (const [kind, m] of got) {
        if (kind === F.error) {
          const code = ERROR_NAMES[Number(m.get(1)?.at(-1) ?? 0)] ?? "UNSPECIFIED";
          this.#error(code, "proto");
          outcome = `proto ${code}`;
        }
        if (kind === F.pong && Number(m.get(1)?.at(-1) ?? 0) === nonce) ponged = true;
      }
      if (ponged) return outcome;
    }
    quietClose(ws);
    this.#proto = null;
    return outcome;
  }

  #jsonTemplate(): string {
    const n = this.#int(1000);
    return this.#pick([
      `{"ping":{"nonce":"${n}"}}`,
      `{"publish":{"correlationId":"${n}","ack":"ACK_MODE_RECEIVED","pulse":{"topic":"fz.a","payload":"aGk="}}}`,
      `{"publish":{"correlation_id":${n},"ack":1,"pulse":{"topic":"fz.a","topic":"fz.b","realityId":"fz"}}}`,
      `{"subscribe":{"subscriptionId":${n % 50},"pattern":"fz.>","maxQueueMessages":"4294967295"}}`,
      `{"publish":{"pulse":{"topic":"fz.a","payload":{"joules":40,"joules":60}}}}`,
      `{"hello":{"clientName":"fz","protocolVersion":${n}},"ping":{"nonce":"1"}}`,
      `{"unsubscribe":{"subscriptionId":-1}}`,
      `{"publish":{"correlationId":"NaN","pulse":{"topic":"fz.a","payload":"-_8="}}}`,
      `[]`,
      `null`,
    ]);
  }

  #mutateText(text: string): Uint8Array {
    const alphabet = '{}[]":,0123456789abcdeE.-+\\ nulltrue';
    let out = text;
    const rounds = 1 + this.#int(3);
    for (let r = 0; r < rounds; r++) {
      const at = this.#int(out.length + 1);
      const m = this.#int(4);
      if (m === 0) out = out.slice(0, at) + out.slice(at + 1);
      else if (m === 1) out = out.slice(0, at) + this.#pick([...alphabet]) + out.slice(at);
      else if (m === 2) out = out.slice(0, at);
      else out = out.slice(0, at) + out.slice(this.#int(out.length + 1));
    }
    const bytes = enc.encode(out);
    // Now and then, bytes that are not UTF-8 in a text frame.
    return this.random() < 0.05 ? concat(bytes, Uint8Array.of(0xff, 0xfe)) : bytes;
  }

  /** A mutated JSON frame, then a ping. */
  async jsonCase(): Promise<string> {
    this.#json ??= await FrameReader.open(this.#node.port, "arqon.v1.json");
    const [ws, reader] = this.#json;
    const template = this.#jsonTemplate();
    const body = this.random() < 0.2 ? enc.encode(template) : this.#mutateText(template);
    const nonce = this.#nonce++;
    await ws.write(clientFrame(0x1, body));
    await ws.write(clientFrame(0x1, enc.encode(`{"ping":{"nonce":"${nonce}"}}`)));
    let outcome = "json accepted";
    while (true) {
      const ev = await reader.next(ANSWER_MS);
      if (ev.kind === "timeout") {
        this.#violation(`json case ${nonce}: no answer in ${ANSWER_MS} ms`);
        outcome = "json unanswered";
        break;
      }
      if (ev.kind === "eof" || ev.opcode === 0x8) {
        outcome = ev.kind === "eof" ? "json eof" : `json close ${closeCodeOf(ev.payload)}`;
        break;
      }
      if (ev.opcode !== 0x1) continue;
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(new TextDecoder().decode(ev.payload));
      } catch {
        this.#violation(`json case ${nonce}: the node sent text that is not JSON`);
        continue;
      }
      const batch = (value.batch as { frames?: Record<string, unknown>[] } | undefined)?.frames;
      let ponged = false;
      for (const f of batch ?? [value]) {
        const error = f.error as { code?: string } | undefined;
        if (error) {
          this.#error(String(error.code ?? ""), "json");
          outcome = `json ${String(error.code ?? "").replace(/^ERROR_CODE_/, "")}`;
        }
        const pong = f.pong as { nonce?: string | number } | undefined;
        if (pong && String(pong.nonce) === String(nonce)) ponged = true;
      }
      if (ponged) return outcome;
    }
    quietClose(ws);
    this.#json = null;
    return outcome;
  }

  /** Random frame headers on a fresh connection: bad opcodes, lengths, masks, fragments. */
  async headerCase(): Promise<string> {
    const [ws, reader] = await FrameReader.open(this.#node.port);
    try {
      const parts: Uint8Array[] = [];
      const frameCount = 1 + this.#int(4);
      for (let i = 0; i < frameCount; i++) parts.push(this.#randomFrame());
      await ws.write(concat(...parts));
      // A ping of each kind: an alive connection answers one of them.
      await ws.write(clientFrame(0x9, enc.encode("k")));
      while (true) {
        const ev = await reader.next(WAIT_MS);
        // A frame that declared more bytes than were sent is still being waited for.
        if (ev.kind === "timeout") return "header waiting";
        if (ev.kind === "eof") return "header eof";
        if (ev.opcode === 0x8) {
          const code = closeCodeOf(ev.payload);
          // RFC 6455 7.4: codes a close frame must never carry (issue 11, section 4).
          if (!validCloseCode(code)) this.invalidCloses++;
          return `header close ${code}`;
        }
        if (ev.opcode === 0xa) return "header alive";
        if (ev.opcode === 0x2) {
          try {
            for (const [kind, m] of frames(ev.payload)) {
              if (kind === F.error) {
                this.#error(ERROR_NAMES[Number(m.get(1)?.at(-1) ?? 0)] ?? "UNSPECIFIED", "header");
              }
            }
          } catch {
            this.#violation("header case: undecodable server frame");
          }
        }
      }
    } finally {
      quietClose(ws);
    }
  }

  #randomFrame(): Uint8Array {
    const opcode = this.random() < 0.5 ? this.#pick([0, 1, 2, 8, 9, 10]) : this.#int(16);
    const fin = this.random() < 0.7;
    let payload = this.#bytes(this.#int(this.random() < 0.1 ? 300 : 40));
    if (opcode === 8 && this.random() < 0.7) {
      const code = this.#pick([0, 999, 1000, 1001, 1004, 1005, 1006, 1015, 3000, 4999, 5000]);
      const reason = this.random() < 0.5 ? Uint8Array.of(0xc3, 0x28) : enc.encode("bye");
      payload = this.random() < 0.2
        ? Uint8Array.of(3)
        : concat(Uint8Array.of(code >> 8, code & 0xff), reason);
    }
    if (opcode === 2 && this.random() < 0.5) payload = this.#protoTemplate();
    const frame = clientFrame(opcode, payload, fin);
    const m = this.#int(5);
    if (m === 0) frame[1] &= 0x7f; // unmasked: a client must mask
    else if (m === 1) frame[0] |= 0x10 << this.#int(3); // reserved bits
    else if (m === 2) {
      // A length that lies: a 64-bit length with the high bit, or more than is sent.
      const lie = new Uint8Array(10);
      lie[0] = frame[0];
      lie[1] = 0x80 | 127;
      lie.set(
        this.#pick([[0x80, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0x01, 0, 0, 0], [
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          5,
        ]]),
        2,
      );
      return concat(lie, Uint8Array.of(1, 2, 3, 4), payload);
    }
    return frame;
  }

  /** A random HTTP request: an error answer must be typed. */
  async httpCase(): Promise<string> {
    const method = this.#pick(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]);
    const reality = this.#pick(["fz", "default", "%00", "..", "a".repeat(200), "r%2Fs"]);
    const path = this.#pick([
      "/healthz",
      "/metrics",
      "/v1/realities",
      `/v1/realities/${reality}`,
      `/v1/realities/${reality}/retention`,
      `/v1/realities/${reality}/history?from_seq=${this.#pick(["1", "-1", "x", "1e99"])}`,
      `/v1/realities/${reality}/topics/fz.a`,
      `/v1/realities/${reality}/topics/${this.#pick(["..", "*", "%20", ">"])}`,
      `/v1/realities/${reality}/request/fz.a?timeout_ms=${this.#pick(["1", "0", "-5", "x"])}`,
      "/v1/tokens",
      `/v1/policy-bindings/${reality}`,
      "/" + new TextDecoder().decode(this.#mutateText("v1/realities/x/history")),
      `/v1/${this.#int(1e6)}`,
    ]).replace(/[^\x21-\x7e]/g, "%20");
    const headers: Record<string, string> = {};
    if (this.random() < 0.5) {
      headers["content-type"] = this.#pick([
        "application/json",
        "text/plain",
        "application/x-protobuf",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1",
      ]);
    }
    if (this.random() < 0.2) headers["origin"] = "https://evil.example";
    if (this.random() < 0.1) headers["content-encoding"] = "gzip";
    let body: Uint8Array | undefined;
    if (method !== "GET" && method !== "HEAD" && this.random() < 0.8) {
      body = this.#mutateText(
        this.#pick([
          '{"retention":[{"pattern":">"}]}',
          '{"retention":[{"pattern":">"}],"retention":[]}',
          '{"name":"fz","name":"fy"}',
          '{"policy":"energy_cap","config":{"max":1,"max":2}}',
          '{"payload":"aGk="}',
          "x".repeat(this.#int(100_000)),
        ]),
      );
    }
    let res: Response;
    try {
      res = await fetch(`${this.#node.httpUrl}${path}`, {
        method,
        headers,
        body: body as Uint8Array<ArrayBuffer> | undefined,
        signal: AbortSignal.timeout(ANSWER_MS),
      });
    } catch (err) {
      if (!this.#node.alive()) return "http node-dead";
      this.#violation(`http ${method} ${path.slice(0, 60)}: ${String(err).slice(0, 80)}`);
      return "http failed";
    }
    if (res.headers.get("content-type")?.includes("event-stream") || res.status < 400) {
      await res.body?.cancel();
      return `http ${res.status}`;
    }
    const text = await res.text().catch(() => "");
    let code = "";
    try {
      code = String(JSON.parse(text)?.error?.code ?? "");
    } catch { /* not JSON: untyped */ }
    if (method === "HEAD") return `http ${res.status}`; // a HEAD answer has no body
    if (!code) {
      this.#violation(`http ${method} ${path.slice(0, 60)}: ${res.status} ${text.slice(0, 60)}`);
    }
    this.#error(code, "http");
    return `http ${res.status}`;
  }

  async close(): Promise<void> {
    quietClose(this.#proto?.[0]);
    quietClose(this.#json?.[0]);
    await Promise.resolve();
  }
}

/** Whether a close code may appear in a close frame (RFC 6455 section 7.4). */
function validCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}
