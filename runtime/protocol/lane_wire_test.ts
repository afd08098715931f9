import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, encodePublishFrame, type IPulse } from "./mod.ts";

Deno.test("the hand encoder writes Pulse.lane exactly as protobufjs does", () => {
  for (const lane of [1, 2, 3, 7]) {
    const pulse: IPulse = {
      topic: "alerts.fire",
      realityId: "lab",
      headers: { k: "v" },
      payload: new Uint8Array([1, 2, 3]),
      lane,
    };
    const fast = encodePublishFrame(5, 1, pulse)!;
    const reference = encodeFrame({ publish: { correlationId: 5, ack: 1, pulse } });
    assert.deepEqual([...fast], [...reference], `lane ${lane}`);
    assert.equal(decodeFrame(fast).publish!.pulse!.lane, lane);
  }
  // What a one-byte varint cannot hold goes the general way (and is refused later).
  for (const lane of [-1, 128, 1.5]) {
    assert.equal(encodePublishFrame(1, 1, { topic: "a", lane }), null, `lane ${lane}`);
  }
});
