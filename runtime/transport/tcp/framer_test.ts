import assert from "node:assert/strict";
import { FrameParser, FrameTooLargeError, lengthPrefixed } from "./framer.ts";

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

Deno.test("framer: frames split at every byte boundary come out whole and in order", () => {
  const frames = [bytes(0, 0), bytes(1, 1), bytes(300, 2), bytes(70_000, 3), bytes(5, 4)];
  const wire = new Uint8Array(frames.reduce((n, f) => n + 4 + f.length, 0));
  let at = 0;
  for (const f of frames) {
    wire.set(lengthPrefixed(f), at);
    at += 4 + f.length;
  }
  for (const step of [1, 3, 4, 7, 1000, wire.length]) {
    const parser = new FrameParser(1 << 20);
    const out: Uint8Array[] = [];
    for (let i = 0; i < wire.length; i += step) {
      out.push(...parser.push(wire.subarray(i, i + step)));
    }
    assert.equal(parser.pending, 0);
    assert.deepEqual(out, frames, `step ${step}`);
  }
});

Deno.test("framer: a prefix over the limit throws FrameTooLargeError before any body", () => {
  const parser = new FrameParser(100);
  assert.deepEqual(parser.push(lengthPrefixed(bytes(100, 9))), [bytes(100, 9)]);
  assert.throws(() => parser.push(new Uint8Array([0, 0, 0, 101])), FrameTooLargeError);
  assert.throws(() => new FrameParser(100).push(new Uint8Array([0xff, 0xff, 0xff, 0xff])), {
    name: "FrameTooLargeError",
    message: /4294967295 bytes exceeds the limit of 100/,
  });
});

Deno.test("framer: frames are copies; a lying prefix holds only what arrived", () => {
  const parser = new FrameParser(1 << 30);
  const chunk = lengthPrefixed(bytes(3, 7));
  const [frame] = parser.push(chunk);
  chunk.fill(0);
  assert.deepEqual(frame, bytes(3, 7));
  parser.push(new Uint8Array([0x3f, 0xff, 0xff, 0xff, 1, 2]));
  assert.equal(parser.pending, 6, "4 prefix bytes and 2 body bytes held");
});
