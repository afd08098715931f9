import assert from "node:assert/strict";
import { decodeFrame, encodeFrame } from "./codec.ts";
import type { IFrame } from "./types.ts";
import { readAnycastTarget, type WireAnycastTarget } from "./wire_anycast.ts";
import { type FrameVisitor, scanFrames } from "./wire_scan.ts";

/** What the scanner hands out for one message: the fast path's target, or "other". */
function scan(bytes: Uint8Array): WireAnycastTarget | undefined | "other" {
  let got: WireAnycastTarget | undefined | "other" = "other";
  const visitor: FrameVisitor = {
    publish: (_c, _a, _p, _consumed, anycast) => {
      got = anycast;
    },
    other: () => {
      got = "other";
    },
    nestedBatch: () => assert.fail("no batch here"),
  };
  assert.equal(scanFrames(bytes, visitor), true);
  return got;
}

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
}

function publishWith(anycast: IFrame["publish"] extends infer P ? P : never): Uint8Array {
  return encodeFrame({ publish: { correlationId: 9, pulse: { topic: "a.b" }, ...anycast } });
}

Deno.test("Publish.anycast read by hand equals protobufjs's decode, float for float", () => {
  // Components that float32 rounds (0.1), negative, tiny and large ones, dimension 384.
  const vector = Array.from({ length: 384 }, (_, i) => (i % 7 - 3) * 0.1 + i * 1e-3);
  vector[5] = -3.4e38;
  vector[6] = 1e-40;
  for (const k of [0, 1, 32, 4_000_000_000]) {
    const bytes = publishWith({ anycast: { vector, k } });
    const got = scan(bytes);
    assert.ok(got !== "other" && got !== undefined, `k ${k}: read on the fast path`);
    const want = decodeFrame(bytes).publish!.anycast!;
    assert.deepEqual([...got.vector], want.vector);
    assert.equal(got.k, want.k ?? 0);
    assert.ok(got.vector instanceof Float32Array);
  }
  // Packed, as proto3 encoders (Python, Go) write it: the same floats.
  const floats = new Uint8Array(Float32Array.from(vector).buffer);
  const target = [0x0a, ...varint(floats.length), ...floats, 0x10, 5];
  const publish = [0x1a, 0x05, 0x1a, 0x03, 0x61, 0x2e, 0x62, 0x22, ...varint(target.length)];
  const packed = Uint8Array.from([
    0x1a,
    ...varint(publish.length + target.length),
    ...publish,
    ...target,
  ]);
  const got = scan(packed);
  assert.ok(got !== "other" && got !== undefined, "packed: read on the fast path");
  assert.deepEqual([...got.vector], decodeFrame(packed).publish!.anycast!.vector);
  assert.equal(got.k, 5);
  // k without a vector; an empty target; no target at all.
  assert.deepEqual(scan(publishWith({ anycast: { k: 3 } })), { vector: new Float32Array(0), k: 3 });
  assert.deepEqual(scan(publishWith({ anycast: {} })), { vector: new Float32Array(0), k: 0 });
  assert.equal(scan(publishWith({})), undefined);
});

Deno.test("the vector is a copy: later changes to the received bytes do not reach it", () => {
  const bytes = publishWith({ anycast: { vector: [1, 2, 3], k: 1 } });
  const got = scan(bytes) as WireAnycastTarget;
  bytes.fill(0);
  assert.deepEqual([...got.vector], [1, 2, 3]);
});

Deno.test("an unusual anycast target falls back to protobufjs's decode of the whole frame", () => {
  // AnycastTarget bytes, wrapped into Frame{publish{pulse{topic}, anycast}} by hand.
  const frameWith = (target: number[]) => {
    const pulse = [0x1a, 0x05, 0x1a, 0x03, 0x61, 0x2e, 0x62]; // Publish.pulse{topic "a.b"}
    const publish = [...pulse, 0x22, target.length, ...target]; // Publish.anycast (field 4)
    return Uint8Array.from([0x1a, publish.length, ...publish]); // Frame.publish (field 3)
  };
  const one = [0, 0, 0x80, 0x3f]; // 1.0f
  // The same target packed, as a check of the hand-made frame.
  const packed = frameWith([0x0a, 4, ...one, 0x10, 1]);
  assert.deepEqual(scan(packed), { vector: Float32Array.of(1), k: 1 });
  assert.deepEqual(decodeFrame(packed).publish!.anycast!.vector, [1]);
  // Unpacked (wire type 5, each float with its tag), as protobufjs's encoder writes it.
  const two = [0, 0, 0, 0x40]; // 2.0f
  const unpacked = frameWith([0x0d, ...one, 0x0d, ...two, 0x10, 3]);
  assert.deepEqual(scan(unpacked), { vector: Float32Array.of(1, 2), k: 3 });
  assert.deepEqual(decodeFrame(unpacked).publish!.anycast!.vector, [1, 2]);
  const unusual = [
    [0x0a, 4, ...one, 0x0a, 4, ...one], // vector split in two packed runs
    [0x0d, ...one, 0x10, 1, 0x0d, ...one], // unpacked floats on both sides of k
    [0x0d, 0, 0, 0x80], // an unpacked float cut short
    [0x10, 1, 0x10, 2], // k twice
    [0x0a, 3, 0, 0, 0x80], // a packed length that is not a multiple of 4
    [0x18, 1], // an unknown field
    [0x10, 0x80, 0x80, 0x80, 0x80, 0x10], // k past 32 bits
  ];
  for (const target of unusual) {
    assert.equal(scan(frameWith(target)), "other", JSON.stringify(target));
  }
  // The reader alone: a cut length is refused, never read past the end.
  assert.equal(readAnycastTarget(Uint8Array.of(0x0a, 8, 0, 0, 0x80, 0x3f), 0, 6), null);
});
