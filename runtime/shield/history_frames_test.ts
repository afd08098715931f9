import assert from "node:assert/strict";
import { decodeFrame, encodePulse } from "../protocol/mod.ts";
import { encodeHistoryChunkFrame, historyQueryFromFrame } from "./history_frames.ts";

Deno.test("history frames: a hand-built HistoryChunk decodes as the schema says", () => {
  const pulses = [1, 2, 300].map((sequence) => ({
    sequence,
    topic: `t.n${sequence}`,
    realityId: "default",
    payload: new Uint8Array(sequence),
  }));
  const frame = decodeFrame(encodeHistoryChunkFrame(2 ** 40 + 7, pulses.map(encodePulse), true));
  assert.equal(frame.kind, "historyChunk");
  const chunk = frame.historyChunk!;
  assert.equal(chunk.correlationId, 2 ** 40 + 7);
  assert.equal(chunk.done, true);
  assert.deepEqual(chunk.pulses!.map((p) => p.sequence), [1, 2, 300]);
  assert.deepEqual(chunk.pulses!.map((p) => p.topic), ["t.n1", "t.n2", "t.n300"]);
  assert.deepEqual(chunk.pulses!.map((p) => p.payload!.length), [1, 2, 300]);

  const empty = decodeFrame(encodeHistoryChunkFrame(0, [], false)).historyChunk!;
  assert.equal(empty.done, false);
  assert.equal(empty.pulses!.length, 0);
});

Deno.test("history frames: zero bounds of a HistoryGet stay open", () => {
  assert.deepEqual(
    historyQueryFromFrame({ fromSequence: 0, toSequence: 5, pattern: "" }, "default"),
    {
      reality: "default",
      pattern: undefined,
      fromSeq: undefined,
      toSeq: 5,
      fromTimeMs: undefined,
      toTimeMs: undefined,
      limit: undefined,
    },
  );
});
