import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, encodePulse, type FrameVisitor, scanFrames } from "./mod.ts";
import { scanHistoryChunk, type ScannedHistoryChunk } from "./wire_history_scan.ts";

const pulse = (i: number) => ({
  topic: `h.${i}`,
  sequence: i,
  payload: new Uint8Array(300 + i).fill(i),
});

/** What `scanFrames` hands a visitor with `historyChunk`: the chunk, or the frame given up. */
function scan(frame: Uint8Array): { chunk?: ScannedHistoryChunk; other?: Uint8Array } {
  const seen: { chunk?: ScannedHistoryChunk; other?: Uint8Array } = {};
  const visitor: FrameVisitor = {
    publish: () => assert.fail("no publish"),
    historyChunk: (chunk) => (seen.chunk = chunk),
    other: (bytes) => (seen.other = bytes),
    nestedBatch: () => assert.fail("no batch"),
  };
  assert.ok(scanFrames(frame, visitor));
  return seen;
}

Deno.test("wire: a history chunk's pulses are views of the bytes protobufjs encodes, in order", () => {
  for (const correlationId of [0, 1, 300, 2 ** 33 + 5]) {
    for (const done of [false, true]) {
      for (const count of [0, 1, 5]) {
        const pulses = Array.from({ length: count }, (_, i) => pulse(i + 1));
        const frame = encodeFrame({ historyChunk: { correlationId, pulses, done } });
        const { chunk, other } = scan(frame);
        assert.equal(other, undefined);
        assert.equal(chunk!.correlationId, correlationId);
        assert.equal(chunk!.done, done);
        assert.deepEqual(chunk!.pulses, pulses.map((p) => encodePulse(p)));
        // Views into the frame, not copies.
        for (const p of chunk!.pulses) assert.equal(p.buffer, frame.buffer);
        // And what protobufjs reads from the same frame.
        const decoded = decodeFrame(frame).historyChunk!;
        assert.equal(Number(decoded.correlationId ?? 0), correlationId);
        assert.equal(decoded.pulses?.length ?? 0, count);
      }
    }
  }
});

Deno.test("wire: an unusual or broken history chunk goes to the full decode", () => {
  const good = encodeFrame({ historyChunk: { correlationId: 9, pulses: [pulse(1)], done: true } });
  // The chunk's own length (third byte) says one byte more than there is.
  const longer = good.slice();
  longer[2]++;
  assert.deepEqual(scan(longer).other, longer);
  // A pulse announcing more bytes than the chunk holds.
  const body = Uint8Array.of(0x08, 0x09, 0x12, 0x7f, 1, 2, 3);
  const cut = Uint8Array.of(0xaa, 0x01, body.length, ...body);
  assert.deepEqual(scan(cut).other, cut);
  assert.equal(scanHistoryChunk(cut, 3, cut.length), null);
  // A field the node does not write (4): left to protobufjs, which keeps unknown fields.
  const extra = Uint8Array.of(0x08, 0x09, 0x20, 0x01);
  assert.equal(scanHistoryChunk(extra, 0, extra.length), null);
  // A varint cut short.
  const short = Uint8Array.of(0x08, 0x89);
  assert.equal(scanHistoryChunk(short, 0, short.length), null);
  // Without a historyChunk visitor, the frame is someone else's.
  const frames: Uint8Array[] = [];
  scanFrames(good, {
    publish: () => {},
    other: (f) => frames.push(f),
    nestedBatch: () => {},
  });
  assert.deepEqual(frames, [good]);
});
