import assert from "node:assert/strict";
import { decodePulse, encodePulse } from "./codec.ts";
import { pulseBytesError } from "./pulse_check.ts";
import { MAX_VCLOCK_ENTRIES, vclockError, vclockLength, writeVclock } from "./vclock_wire.ts";
import { stampSuffix } from "./wire_encode.ts";
import { concatBytes } from "./wire_encode.ts";
import { PulseView } from "./pulse_view.ts";

Deno.test("writeVclock is protobufjs's encoding of Pulse.vclock, entry by entry", () => {
  const clock = { a: 1, "b-2": 2 ** 40, c: 300 };
  const buf = new Uint8Array(vclockLength(clock));
  assert.equal(writeVclock(buf, 0, clock), buf.length);
  assert.deepEqual(buf, new Uint8Array(encodePulse({ vclock: clock })));
  assert.deepEqual(decodePulse(buf).vclock, clock);
});

Deno.test("a stamp with a clock appended to a producer's bytes decodes to that clock", () => {
  const source = encodePulse({ topic: "a.b", vclock: { a: 99, z: 4 } });
  const stamp = stampSuffix("id", 7, "p", "a", { wallMs: 5, logical: 0 }, "a.b", 0, { a: 7, z: 4 });
  const bytes = concatBytes(source, stamp);
  assert.equal(pulseBytesError(bytes), undefined);
  assert.deepEqual(decodePulse(bytes).vclock, { a: 7, z: 4 });
  const into = new Map<string, number>([["z", 9]]);
  assert.equal(new PulseView(bytes).mergeClockInto(into), true);
  assert.deepEqual(Object.fromEntries(into), { a: 7, z: 9 });
});

Deno.test("vclockError bounds entries, keys and values", () => {
  assert.equal(vclockError({ a: 0, b: 2 ** 53 - 1 }), undefined);
  assert.match(vclockError({ "A": 1 })!, /must match/);
  assert.match(vclockError({ a: -1 })!, /sequence/);
  assert.match(vclockError({ a: 1.5 })!, /sequence/);
  const many: Record<string, number> = {};
  for (let i = 0; i <= MAX_VCLOCK_ENTRIES; i++) many[`r${i}`] = 1;
  assert.match(vclockError(many)!, /at most 64/);
});

Deno.test("pulse_check refuses a vclock entry with a key that is not UTF-8", () => {
  // Pulse{vclock{key: 0xff, value: 1}}
  const bytes = Uint8Array.of(0xa2, 0x01, 0x05, 0x0a, 0x01, 0xff, 0x10, 0x01);
  assert.match(pulseBytesError(bytes)!, /UTF-8/);
});

Deno.test("a publish frame with consumed entries: protobufjs reads it, the scanner too", async () => {
  const { encodePublishFrame } = await import("./wire_encode.ts");
  const { decodeFrame } = await import("./codec.ts");
  const { scanFrames } = await import("./wire_scan.ts");
  const consumed = { alpha: 3, "b-2": 2 ** 40 };
  const frame = encodePublishFrame(7, 1, { topic: "a.b", payload: Uint8Array.of(1) }, consumed)!;
  const decoded = decodeFrame(frame);
  assert.deepEqual(decoded.publish!.consumed, consumed);
  assert.equal(decoded.publish!.pulse!.topic, "a.b");
  let seen: Record<string, number> | undefined;
  scanFrames(frame, {
    publish: (_c, _a, _p, c) => seen = c,
    other: () => assert.fail("fast path expected"),
    nestedBatch: () => {},
  });
  assert.deepEqual(seen, consumed);
  // A key that is not ASCII leaves the frame to the full decode.
  const odd = encodePublishFrame(7, 1, { topic: "a.b" }, { "é": 1 })!;
  let other = false;
  scanFrames(odd, { publish: () => {}, other: () => other = true, nestedBatch: () => {} });
  assert.equal(other, true);
});

Deno.test("PulseView merges a one-entry clock by the entry-wise maximum", () => {
  const bytes = concatBytes(
    encodePulse({ topic: "a.b" }),
    stampSuffix("id", 9, "p", "r", { wallMs: 1, logical: 0 }, "", 0, { r: 9 }),
  );
  const into = new Map<string, number>([["r", 12]]);
  assert.equal(new PulseView(bytes).mergeClockInto(into), false);
  into.set("r", 3);
  assert.equal(new PulseView(bytes).mergeClockInto(into), true);
  assert.equal(into.get("r"), 9);
});

Deno.test("a stamp's own clock entry written directly is the map's encoding, byte for byte", () => {
  const realities = ["r", "default", "a-reality.with_a-longer.name"];
  // Sequences across every varint length the entry can take.
  const sequences = [1, 127, 128, 16_383, 16_384, 2 ** 21, 2 ** 35, 2 ** 53 - 1];
  for (const r of realities) {
    for (const seq of sequences) {
      const ts = { wallMs: 1_700_000_000_000, logical: 3 };
      const walked = stampSuffix("id", seq, "p", r, ts, "a.b", 5, { [r]: seq }).slice();
      const direct = stampSuffix("id", seq, "p", r, ts, "a.b", 5, { [r]: seq }, true).slice();
      assert.deepEqual(direct, walked, `${r} ${seq}`);
      const pulse = decodePulse(concatBytes(encodePulse({ topic: "a.b" }), direct));
      assert.deepEqual(pulse.vclock, { [r]: seq });
    }
  }
});
