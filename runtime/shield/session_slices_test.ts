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
