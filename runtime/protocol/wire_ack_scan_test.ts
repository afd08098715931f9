import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, type FrameVisitor, scanFrames } from "./mod.ts";
import { scanAck, type ScannedAck } from "./wire_ack_scan.ts";

/** What `scanFrames` hands a visitor with `ack`: the ack, or the frame given up. */
function scan(frame: Uint8Array): { ack?: ScannedAck; other?: Uint8Array } {
  const seen: { ack?: ScannedAck; other?: Uint8Array } = {};
  const visitor: FrameVisitor = {
    publish: () => assert.fail("no publish"),
    ack: (ack) => (seen.ack = ack),
    other: (bytes) => (seen.other = bytes),
    nestedBatch: () => assert.fail("no batch"),
  };
  assert.ok(scanFrames(frame, visitor));
  return seen;
}

Deno.test("wire: an ack read in place equals protobufjs's decode, field by field", () => {
  const id = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  const acks = [
    { correlationId: 1, id, sequence: 1, realityId: "bench" },
    { correlationId: 2 ** 33 + 5, id, sequence: 2 ** 40 + 7, realityId: "bench" },
    // Same length, other bytes: the kept reality id must not answer for it.
    { correlationId: 3, id, sequence: 9, realityId: "bencH" },
    { correlationId: 4, id: "", sequence: 0, realityId: "" },
    { correlationId: 5, id, sequence: 300, realityId: "bench" },
  ];
  for (const want of acks) {
    const frame = encodeFrame({ ack: want });
    const { ack, other } = scan(frame);
    assert.equal(other, undefined);
    const eager = decodeFrame(frame).ack!;
    assert.deepEqual(ack, {
      correlationId: Number(eager.correlationId ?? 0),
      id: eager.id ?? "",
      sequence: Number(eager.sequence ?? 0),
      realityId: eager.realityId ?? "",
    });
    assert.deepEqual(ack, want);
  }
});

Deno.test("wire: an unusual ack goes to the full decode", () => {
  // A reality id that is not ASCII: protobufjs decodes its UTF-8.
  const utf8 = encodeFrame({ ack: { correlationId: 1, id: "x", realityId: "réel" } });
  assert.deepEqual(scan(utf8).other, utf8);
  assert.equal(decodeFrame(utf8).ack!.realityId, "réel");
  // A string announcing more bytes than there are.
  const body = Uint8Array.of(0x08, 0x01, 0x12, 0x40, 0x61);
  assert.equal(scanAck(body, 0, body.length), null);
  // A field the node does not write (5), and a varint cut short.
  assert.equal(scanAck(Uint8Array.of(0x28, 0x01), 0, 2), null);
  assert.equal(scanAck(Uint8Array.of(0x08, 0x81), 0, 2), null);
  // Without an ack visitor, the frame is someone else's.
  const frame = encodeFrame({ ack: { correlationId: 7, id: "x", sequence: 1, realityId: "r" } });
  const frames: Uint8Array[] = [];
  scanFrames(frame, { publish: () => {}, other: (f) => frames.push(f), nestedBatch: () => {} });
  assert.deepEqual(frames, [frame]);
});
