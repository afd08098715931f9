/**
 * Fuzz generators of protobuf and JSON frames: mutated encodings of valid frames, sent
 * on one connection per subprotocol, each followed by a ping.
 * @module
 */
import { concat, F, frames, pb, type PbField } from "../../support/pb.ts";
import { clientFrame, type RawTcpWs } from "../support.ts";
import { ERROR_NAMES, quietClose } from "./common.ts";
import { ANSWER_MS, enc, type FuzzKit } from "./fuzz_kit.ts";
import { closeCodeOf, FrameReader } from "./wire.ts";

/** Byte-level mutations of a valid encoding. */
export function mutate(kit: FuzzKit, bytes: Uint8Array): Uint8Array {
  let out: Uint8Array = Uint8Array.from(bytes);
  const rounds = 1 + kit.int(4);
  for (let r = 0; r < rounds; r++) {
    const m = kit.int(6);
    if (m === 0 && out.length) out[kit.int(out.length)] ^= 1 << kit.int(8);
    else if (m === 1) out = out.slice(0, kit.int(out.length + 1));
    else if (m === 2) out = concat(out, kit.bytes(1 + kit.int(16)));
    else if (m === 3 && out.length) {
      out[kit.int(out.length)] = kit.pick([0, 0x7f, 0x80, 0xff]);
    } else if (m === 4) {
      const at = kit.int(out.length + 1);
      out = concat(out.slice(0, at), kit.bytes(1 + kit.int(8)), out.slice(at));
    } else out = kit.bytes(kit.int(64));
  }
  return out;
}

/** A valid-ish protobuf frame of a random kind. */
export function protoTemplate(kit: FuzzKit): Uint8Array {
  const topic = kit.pick(["fz.a", "fz.b.c", "fz.>", "*", "", "a..b", "x".repeat(300)]);
  const reality = kit.pick(["", "default", "fz", "Bad Reality", "r".repeat(100)]);
  const pulse: PbField[] = [[3, topic], [11, kit.bytes(kit.int(64))], [5, reality]];
  const kinds: PbField[][] = [
    [[F.publish, [[1, kit.int(1000)], [2, kit.int(4)], [3, pulse]]]],
    [[F.subscribe, [[1, kit.int(50)], [3, topic], [2, reality], [5, kit.int(5)]]]],
    [[F.unsubscribe, [[1, kit.int(50)]]]],
    [[F.hello, [[1, "fuzz"], [2, kit.int(3)]]]],
    [[F.ping, [[1, kit.int(1 << 30)]]]],
    [[F.request, [[1, kit.int(1000)], [2, pulse], [3, kit.int(100)]]]],
    [[F.credit, [[1, kit.int(50)], [2, kit.int(1000)]]]],
    [[F.batch, [[1, pb([[F.ping, [[1, 3]]]])], [1, pb([[F.publish, [[3, pulse]]]])]]]],
    [[kit.int(40), kit.bytes(kit.int(20))]],
  ];
  return pb(kit.pick(kinds));
}

/** A JSON frame, valid or nearly. */
export function jsonTemplate(kit: FuzzKit): string {
  const n = kit.int(1000);
  return kit.pick([
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

/** Character-level mutations of a text. */
export function mutateText(kit: FuzzKit, text: string): Uint8Array {
  const alphabet = '{}[]":,0123456789abcdeE.-+\\ nulltrue';
  let out = text;
  const rounds = 1 + kit.int(3);
  for (let r = 0; r < rounds; r++) {
    const at = kit.int(out.length + 1);
    const m = kit.int(4);
    if (m === 0) out = out.slice(0, at) + out.slice(at + 1);
    else if (m === 1) out = out.slice(0, at) + kit.pick([...alphabet]) + out.slice(at);
    else if (m === 2) out = out.slice(0, at);
    else out = out.slice(0, at) + out.slice(kit.int(out.length + 1));
  }
  const bytes = enc.encode(out);
  // Now and then, bytes that are not UTF-8 in a text frame.
  return kit.random() < 0.05 ? concat(bytes, Uint8Array.of(0xff, 0xfe)) : bytes;
}

/** One connection per subprotocol, reopened after the node closes it. */
export class FrameCases {
  readonly #kit: FuzzKit;
  #protoWs: [RawTcpWs, FrameReader] | null = null;
  #jsonWs: [RawTcpWs, FrameReader] | null = null;

  constructor(kit: FuzzKit) {
    this.#kit = kit;
  }

  /** A mutated protobuf frame, then a ping: answered by a typed error, a pong or a close. */
  async protoCase(): Promise<string> {
    this.#protoWs ??= await FrameReader.open(this.#kit.node.port);
    const [ws, reader] = this.#protoWs;
    const body = this.#kit.random() < 0.15
      ? protoTemplate(this.#kit)
      : mutate(this.#kit, protoTemplate(this.#kit));
    const nonce = this.#kit.nonce++;
    await ws.write(clientFrame(0x2, body));
    await ws.write(clientFrame(0x2, pb([[F.ping, [[1, nonce]]]])));
    let outcome = "proto accepted";
    while (true) {
      const ev = await reader.next(ANSWER_MS);
      if (ev.kind === "timeout") {
        this.#kit.violation(`proto case ${nonce}: no answer in ${ANSWER_MS} ms`);
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
        this.#kit.violation(`proto case ${nonce}: undecodable server frame`);
        continue;
      }
      let ponged = false;
      for (const [kind, m] of got) {
        if (kind === F.error) {
          const code = ERROR_NAMES[Number(m.get(1)?.at(-1) ?? 0)] ?? "UNSPECIFIED";
          this.#kit.error(code, "proto");
          outcome = `proto ${code}`;
        }
        if (kind === F.pong && Number(m.get(1)?.at(-1) ?? 0) === nonce) ponged = true;
      }
      if (ponged) return outcome;
    }
    quietClose(ws);
    this.#protoWs = null;
    return outcome;
  }

  /** A mutated JSON frame, then a ping. */
  async jsonCase(): Promise<string> {
    this.#jsonWs ??= await FrameReader.open(this.#kit.node.port, "arqon.v1.json");
    const [ws, reader] = this.#jsonWs;
    const template = jsonTemplate(this.#kit);
    const body = this.#kit.random() < 0.2 ? enc.encode(template) : mutateText(this.#kit, template);
    const nonce = this.#kit.nonce++;
    await ws.write(clientFrame(0x1, body));
    await ws.write(clientFrame(0x1, enc.encode(`{"ping":{"nonce":"${nonce}"}}`)));
    let outcome = "json accepted";
    while (true) {
      const ev = await reader.next(ANSWER_MS);
      if (ev.kind === "timeout") {
        this.#kit.violation(`json case ${nonce}: no answer in ${ANSWER_MS} ms`);
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
        this.#kit.violation(`json case ${nonce}: the node sent text that is not JSON`);
        continue;
      }
      const batch = (value.batch as { frames?: Record<string, unknown>[] } | undefined)?.frames;
      let ponged = false;
      for (const f of batch ?? [value]) {
        const error = f.error as { code?: string } | undefined;
        if (error) {
          this.#kit.error(String(error.code ?? ""), "json");
          outcome = `json ${String(error.code ?? "").replace(/^ERROR_CODE_/, "")}`;
        }
        const pong = f.pong as { nonce?: string | number } | undefined;
        if (pong && String(pong.nonce) === String(nonce)) ponged = true;
      }
      if (ponged) return outcome;
    }
    quietClose(ws);
    this.#jsonWs = null;
    return outcome;
  }

  close(): void {
    quietClose(this.#protoWs?.[0]);
    quietClose(this.#jsonWs?.[0]);
  }
}
