/** Pulse fixtures shared by tests (not published: `**\/testdata/` is excluded). */
import type { IPulse } from "../mod.ts";

/** A pulse with every field set, a 1500-byte payload and a sequence near 2^53. */
export const FULL_PULSE: IPulse = {
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
