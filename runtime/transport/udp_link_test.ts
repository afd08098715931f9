import assert from "node:assert/strict";
import { decodeFrame, encodeFrame } from "../protocol/mod.ts";
import { batchMembers, splitBatch } from "./udp_link.ts";

Deno.test("udp link: an oversized Frame{batch} splits into datagram-sized batches", () => {
  const members = Array.from(
    { length: 50 },
    (_, i) => encodeFrame({ ack: { correlationId: i + 1, id: `id-${i}`.repeat(5) } }),
  );
  const batch = encodeFrame({ batch: { frames: members.map((m) => decodeFrame(m)) } });
  const parsed = batchMembers(batch);
  assert.ok(parsed);
  assert.deepStrictEqual(parsed, members);
  const parts = splitBatch(parsed, 300);
  assert.ok(parts.length > 1);
  const ids: number[] = [];
  for (const p of parts) {
    assert.ok(p.length <= 300, `part of ${p.length} bytes`);
    for (const f of decodeFrame(p).batch!.frames!) ids.push(Number(f.ack!.correlationId));
  }
  assert.deepStrictEqual(ids, members.map((_, i) => i + 1));
  assert.equal(batchMembers(encodeFrame({ ping: { nonce: 1 } })), null);
});
