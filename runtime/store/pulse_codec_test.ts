import assert from "node:assert/strict";
import { encodePulse } from "../protocol/mod.ts";
import { readTopic } from "./pulse_codec.ts";
import { FULL_PULSE as FULL } from "../protocol/testdata/pulses.ts";

Deno.test("pulse codec: readTopic finds the topic wherever field 3 sits", () => {
  assert.equal(readTopic(encodePulse(FULL)), "sensor.room-1.temp_c");
  assert.equal(readTopic(encodePulse({ sequence: 5 })), "");
  // A stamp appended after the producer's fields (the Spine's fast path) keeps field 3.
  const producer = encodePulse({ topic: "x.y", payload: new Uint8Array([1, 2, 3]) });
  const stamp = encodePulse({ id: "i", sequence: 3, realityId: "r" });
  const joined = new Uint8Array([...producer, ...stamp]);
  assert.equal(readTopic(joined), "x.y");
});
