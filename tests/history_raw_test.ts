/**
 * `history.get` read by raw clients (WebSocket and length-prefixed TCP, not our SDK): the
 * node answers with `HistoryChunk` frames spliced from the stored pulse bytes, so every
 * chunk's pulses must be, byte for byte, the pulses live subscribers were delivered, in
 * sequence order, split over several chunks, with the correlation id echoed and `done`
 * on the last chunk only. The SDK's `history()` keeps those bytes and decodes on access
 * (`PulseView`): every field it reads equals protobufjs's eager decode of the raw bytes.
 * @module
 */
import assert from "node:assert/strict";
import { ArqonClient, type IPulse, PulseView } from "../mod.ts";
import { decodePulse } from "../runtime/protocol/mod.ts";
import { F, msg, num, pb, type PbMessage, str } from "./support/pb.ts";
import { RawTcp } from "./support/raw_tcp.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { withNode } from "./support/node.ts";

const HISTORY_GET = 20;
const HISTORY_CHUNK = 21;
// 600 pulses of 1 KiB: more than two 256 KiB chunks.
const COUNT = 600;
const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);

/** The pulses of each chunk (raw bytes), in arrival order, and the chunks themselves. */
function chunkPulses(chunks: PbMessage[]): Uint8Array[] {
  return chunks.flatMap((c) => (c.get(2) ?? []) as Uint8Array[]);
}

function checkChunks(chunks: PbMessage[], correlationId: number, live: Uint8Array[]): void {
  assert.ok(chunks.length >= 3, `the answer spans several chunks (${chunks.length})`);
  for (const [i, c] of chunks.entries()) {
    assert.equal(num(c, 1), correlationId, "correlation id echoed on every chunk");
    assert.equal(num(c, 3), i === chunks.length - 1 ? 1 : 0, "done on the last chunk only");
  }
  const stored = chunkPulses(chunks);
  assert.equal(stored.length, COUNT);
  for (let i = 0; i < COUNT; i++) {
    const p = unpbPulse(stored[i]);
    assert.equal(num(p, 2), i + 1, "sequence order"); // Pulse.sequence = 2
    assert.equal(str(p, 3), `h.t${i % 3}`); // Pulse.topic = 3
    assert.deepEqual(stored[i], live[i], `pulse ${i + 1}: stored bytes are the delivered bytes`);
  }
}

// Every field of `IPulse` a reader can ask for, read through the getters.
const FIELDS = [
  "id",
  "sequence",
  "topic",
  "producerId",
  "realityId",
  "timestamp",
  "traceContext",
  "spectral",
  "headers",
  "contentType",
  "syncId",
  "intentVector",
  "entropySeed",
  "ghost",
  "vclock",
  "replyTo",
  "payload",
] as const;

/** The SDK's history read: lazy views of the delivered bytes, equal to an eager decode. */
function checkSdkHistory(pulses: IPulse[], live: Uint8Array[], via: string): void {
  assert.equal(pulses.length, COUNT, via);
  for (let i = 0; i < COUNT; i++) {
    const view = pulses[i];
    assert.ok(view instanceof PulseView, `${via}: pulse ${i + 1} is decoded lazily`);
    assert.deepEqual(view.encoded, live[i], `${via}: pulse ${i + 1} keeps the delivered bytes`);
    // protobufjs's eager decode of the raw bytes, field by field (absent messages: null).
    const eager = decodePulse(live[i]) as unknown as Record<string, unknown>;
    for (const field of FIELDS) {
      const got: unknown = (view as unknown as Record<string, unknown>)[field];
      assert.deepEqual(got, eager[field] ?? null, `${via}: pulse ${i + 1} ${field}`);
    }
    assert.equal(view.sequence, i + 1, `${via}: sequence order`);
    assert.deepEqual(JSON.parse(JSON.stringify(view)).sequence, String(i + 1), `${via}: JSON`);
  }
}

function unpbPulse(bytes: Uint8Array): PbMessage {
  return msg(new Map([[1, [bytes]]]), 1);
}

Deno.test("history over raw WebSocket and raw TCP: chunks carry the delivered pulse bytes, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-history-raw-" });
  try {
    await withNode(async (node) => {
      const created = await fetch(`${node.url}/v1/realities`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "hist", retention: [{ pattern: "h.>" }] }),
      });
      assert.equal(created.status, 201, await created.text());

      // A raw live subscriber records the Deliver bytes the node sends.
      const sub = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
      sub.send(hello("live"));
      sub.send(pb([[F.subscribe, [[1, 1], [2, "hist"], [3, "h.>"]]]]));
      await sub.wait(F.subscribed);

      const pub = await ArqonClient.connect(node.wsUrl, { name: "pub" });
      for (let i = 0; i < COUNT; i++) {
        const payload = new Uint8Array(1024).fill(i & 0xff);
        const ack = i === COUNT - 1 ? "durable" : "none";
        const done = pub.publish(`h.t${i % 3}`, payload, { reality: "hist", ack });
        if (i === COUNT - 1) await done;
      }
      await pub.close();
      await sub.wait(F.deliver, COUNT);
      const live = sub.of(F.deliver).map((d) => d.get(2)![0] as Uint8Array);

      const historyGet = (correlationId: number) =>
        pb([[HISTORY_GET, [[1, correlationId], [2, "hist"]]]]);

      // WebSocket, protobuf subprotocol.
      const ws = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
      ws.send(hello("ws-reader"));
      ws.send(historyGet(7));
      await ws.until(
        () => ws.of(HISTORY_CHUNK).some((c) => num(c, 3) === 1),
        "the last history chunk",
        30_000,
      );
      checkChunks(ws.of(HISTORY_CHUNK), 7, live);
      await ws.close();

      // Raw TCP, length-prefixed frames.
      const tcp = await RawTcp.open(node.tcpUrl!);
      await tcp.send(hello("tcp-reader"));
      await tcp.send(historyGet(2 ** 33 + 5));
      await tcp.until(
        () => tcp.of(HISTORY_CHUNK).some((c) => num(c, 3) === 1),
        "the last history chunk",
        30_000,
      );
      checkChunks(tcp.of(HISTORY_CHUNK), 2 ** 33 + 5, live);
      tcp.close();

      // The SDK over each transport: the runtime's WebSocket, ours (noDelay), raw TCP.
      for (
        const [url, noDelay, via] of [
          [node.wsUrl, false, "ws"],
          [node.wsUrl, true, "ws noDelay"],
          [node.tcpUrl!, false, "tcp"],
        ] as const
      ) {
        const reader = await ArqonClient.connect(url, { name: "sdk-reader", noDelay });
        checkSdkHistory(await reader.history({ reality: "hist" }), live, via);
        await reader.close();
      }
      await sub.close();
    }, { dataDir: dir, tcpPort: 0 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
