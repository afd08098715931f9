import assert from "node:assert/strict";
import {
  decodeBatch,
  decodeOutcomes,
  encodeBatch,
  encodeOutcomes,
  type PulseOutcome,
} from "./worker_protocol.ts";
import type { OperatorPulse } from "./world.ts";

const b = (s: string) => new TextEncoder().encode(s);

const pulses: OperatorPulse[] = [
  {
    topic: "sensors.é.1",
    reality: "default",
    producer: "client:😀",
    headers: [["a", "1"], ["traceparent", "00-ab-cd-01"], ["", ""]],
    contentType: "application/json",
    payload: b('{"i":1,"v":2.5}'),
    entropySeed: 0xffff_ffff_ffff_ffffn,
    wallMs: 1_765_000_000_000n,
    logical: 4_294_967_296,
    spectral: { coherence: 0.75, criticality: -1.5, eigenvalues: [1, Number.NaN, -0] },
  },
  {
    topic: "t",
    reality: "",
    producer: "",
    headers: [],
    contentType: "",
    payload: new Uint8Array(0),
    entropySeed: 0n,
    wallMs: -5n,
    logical: 0,
    spectral: null,
  },
  {
    topic: "big",
    reality: "r",
    producer: "p",
    headers: [["h", "x".repeat(10_000)]],
    contentType: "application/octet-stream",
    payload: new Uint8Array(100_000).map((_, i) => i & 255),
    entropySeed: 42n,
    wallMs: 0n,
    logical: 7,
    spectral: { coherence: 1, criticality: 0, eigenvalues: [] },
  },
];

Deno.test("a batch of input pulses round-trips through its packed buffer", () => {
  const packed = encodeBatch(pulses);
  assert.ok(packed instanceof ArrayBuffer);
  assert.deepEqual(decodeBatch(packed), pulses);
  assert.deepEqual(decodeBatch(encodeBatch([])), []);
});

Deno.test("outcomes (outputs, state writes, deletes, failures) round-trip; payloads are copies", () => {
  const outcomes: PulseOutcome[] = [
    {
      ok: true,
      outputs: pulses,
      changes: [["sum", b("35")], ["gone", null], ["empty", new Uint8Array(0)]],
      fuel: 50_580,
      ms: 0.0123,
    },
    { ok: false, kind: "fuel", message: "out of fuel: ünïcode", ms: 3.5 },
    { ok: true, outputs: [], changes: [], fuel: 0, ms: 0 },
  ];
  const packed = encodeOutcomes(outcomes);
  const back = decodeOutcomes(packed);
  assert.deepEqual(back, outcomes);
  const first = back[0] as Extract<PulseOutcome, { ok: true }>;
  // A copy: it does not keep the whole message alive in the store.
  assert.equal(first.outputs[0].payload.buffer.byteLength, first.outputs[0].payload.length);
});

Deno.test("a truncated packed message is a RangeError, not garbage", () => {
  const packed = encodeOutcomes([{ ok: true, outputs: pulses, changes: [], fuel: 1, ms: 1 }]);
  assert.throws(() => decodeOutcomes(packed.slice(0, packed.byteLength - 3)), RangeError);
  assert.throws(() => decodeBatch(encodeBatch(pulses).slice(0, 20)), RangeError);
});
