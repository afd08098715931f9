import assert from "node:assert/strict";
import { encodePulse, type IPulse } from "../protocol/mod.ts";
import { readTopic } from "./pulse_codec.ts";

const FULL: IPulse = {
  id: "0190f1e0-0000-7000-8000-000000000001",
  sequence: 9_007_199_254_740_000,
  topic: "sensor.room-1.temp_c",
  producerId: "p",
  realityId: "lab",
  timestamp: { wallMs: 1_700_000_000_123, logical: 7 },
  traceContext: { traceparent: "00-abc-def-01" },
  spectral: { coherence: 0.5, criticality: 0.25, eigenvalues: [1, 2.5] },
  headers: { a: "b", "x-y": "z" },
  contentType: "application/json",
  payload: new Uint8Array(1500).map((_, i) => (i * 13) & 255),
  syncId: "s1",
  intentVector: [0.5, -1],
  entropySeed: 42,
  ghost: true,
  replyTo: "reply.to.me",
};

Deno.test("pulse codec: readTopic finds the topic wherever field 3 sits", () => {
  assert.equal(readTopic(encodePulse(FULL)), "sensor.room-1.temp_c");
  assert.equal(readTopic(encodePulse({ sequence: 5 })), "");
  // A stamp appended after the producer's fields (the Spine's fast path) keeps field 3.
  const producer = encodePulse({ topic: "x.y", payload: new Uint8Array([1, 2, 3]) });
  const stamp = encodePulse({ id: "i", sequence: 3, realityId: "r" });
  const joined = new Uint8Array([...producer, ...stamp]);
  assert.equal(readTopic(joined), "x.y");
});
