import assert from "node:assert/strict";
import { encodePulse, type IPulse, pulseToJsonObject } from "../protocol/mod.ts";
import { storedPulseJson } from "./stored_json.ts";

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

Deno.test("stored JSON: stored JSON equals the protocol's canonical JSON mapping", () => {
  for (
    const pulse of [FULL, { topic: "a.b", sequence: 1 }, { ...FULL, payload: new Uint8Array() }]
  ) {
    const bytes = encodePulse(pulse);
    assert.deepEqual(storedPulseJson(bytes), pulseToJsonObject(pulse));
  }
});
