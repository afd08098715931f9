import assert from "node:assert/strict";
import type { BusError, FrameReader, IFrame } from "../protocol/mod.ts";
import { MessageSlicer } from "./session_slices.ts";

/** A reader recording what reaches it; each publish advances the fake clock by 1 ms. */
function recorder(clock: { now: number }) {
  const seen: string[] = [];
  const reader: FrameReader = {
    publish: (correlationId, _ack, pulse) => {
      clock.now += 1;
      seen.push(`publish ${correlationId} ${pulse[0]}`);
    },
    frame: (_frame: IFrame, kind: string) => void seen.push(kind),
    error: (e: BusError) => void seen.push(`error ${e.code}`),
  };
  return { seen, reader };
}

Deno.test("a message's frames past the slice wait, in order, with copies of their bytes", () => {
  const clock = { now: 0 };
  const { seen, reader } = recorder(clock);
  const slicer = new MessageSlicer(reader, () => clock.now);
  const bytes = new Uint8Array([1]);
  slicer.begin(2);
  for (let i = 1; i <= 5; i++) {
    bytes[0] = i;
    slicer.reader.publish(i, 0, bytes);
  }
  slicer.reader.frame({ ping: {} }, "ping");
  // Two publishes fit the 2 ms slice; the rest (a ping included, to keep the order) waits.
  assert.deepEqual(seen, ["publish 1 1", "publish 2 2"]);
  assert.ok(slicer.pending);
  slicer.begin(2);
  assert.equal(slicer.resume(), true);
  assert.deepEqual(seen.slice(2), ["publish 3 3", "publish 4 4"]);
  slicer.begin(2);
  assert.equal(slicer.resume(), false);
  assert.deepEqual(seen.slice(4), ["publish 5 5", "ping"]);
  assert.ok(!slicer.pending);
});

Deno.test("every slice runs at least one frame, however long frames take", () => {
  const clock = { now: 0 };
  const { seen, reader } = recorder(clock);
  const slicer = new MessageSlicer(reader, () => clock.now);
  slicer.begin(0);
  for (let i = 1; i <= 3; i++) slicer.reader.publish(i, 0, new Uint8Array([i]));
  assert.equal(seen.length, 1);
  slicer.begin(0);
  assert.equal(slicer.resume(), true);
  slicer.begin(0);
  assert.equal(slicer.resume(), false);
  assert.equal(seen.length, 3);
});

Deno.test("finish runs everything that waits", () => {
  const clock = { now: 0 };
  const { seen, reader } = recorder(clock);
  const slicer = new MessageSlicer(reader, () => clock.now);
  slicer.begin(0);
  for (let i = 1; i <= 3; i++) slicer.reader.publish(i, 0, new Uint8Array([i]));
  slicer.finish();
  assert.equal(seen.length, 3);
});

Deno.test("cheap frames read the clock every few frames; slow ones every frame", () => {
  let now = 0;
  let reads = 0;
  let cost = 0.001;
  const seen: number[] = [];
  const reader: FrameReader = {
    publish: (correlationId) => {
      now += cost;
      seen.push(correlationId);
    },
    frame: () => {},
    error: () => {},
  };
  const slicer = new MessageSlicer(reader, () => (reads++, now));
  slicer.begin(2);
  for (let i = 1; i <= 160; i++) slicer.reader.publish(i, 0, new Uint8Array([i]));
  // 160 frames of 1 µs fit a 2 ms slice; the clock was read about every 16 of them.
  assert.equal(seen.length, 160);
  assert.ok(reads <= 1 + Math.ceil(160 / 16) + 1, `${reads} clock reads`);
  // Frames turning slow mid-slice: the slice overshoots by at most 16 of them.
  cost = 1;
  for (let i = 161; i <= 200; i++) slicer.reader.publish(i, 0, new Uint8Array([i]));
  const ran = seen.length - 160;
  assert.ok(ran >= 1 && ran <= 16, `${ran} slow frames ran in the slice`);
  assert.ok(slicer.pending);
  // Once slow, every frame is checked: a new 2 ms slice runs two or three of them.
  slicer.begin(2);
  assert.equal(slicer.resume(), true);
  const next = seen.length - 160 - ran;
  assert.ok(next >= 2 && next <= 3, `${next} frames in the next slice`);
});
