import assert from "node:assert/strict";
import {
  decodeBatch,
  decodeOutcomes,
  encodeBatch,
  encodeOutcomes,
  type PulseOutcome,
} from "./worker_protocol.ts";
import type { OperatorPulse } from "./world.ts";
import { type arqon, decodePulse, encodePulse } from "../runtime/protocol/mod.ts";
import { StampedPulse } from "../runtime/spine/mod.ts";
import { toOperatorPulse } from "./input_pulse.ts";
import { buildOutputs } from "./output_build.ts";
import { derivationOf, deriveOutput } from "./derive.ts";

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

// Inputs as the node holds them: a producer's bytes and the node's stamp, or one encoding.
const inputs: arqon.v1.IPulse[] = pulses.map((p, i) => ({
  topic: p.topic,
  realityId: p.reality || "default",
  producerId: p.producer,
  headers: Object.fromEntries(p.headers),
  contentType: p.contentType,
  payload: p.payload,
  entropySeed: i + 1,
  timestamp: { wallMs: 1_765_000_000_000 + i, logical: i },
  sequence: i + 1,
  id: `id-${i}`,
}));

Deno.test("a batch of input pulses reaches the worker as the node's encoding of each", () => {
  const stamped = inputs.map((p, i) =>
    i === 0
      ? { parts: [encodePulse(p).subarray(0, 7), encodePulse(p).subarray(7)] as const }
      : new StampedPulse(p)
  );
  const back = decodeBatch(encodeBatch(stamped));
  assert.equal(back.length, inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    assert.deepEqual(new Uint8Array(back[i]), new Uint8Array(encodePulse(inputs[i])));
    // The worker's view of it is the one the node had.
    const view = toOperatorPulse(decodePulse(back[i]));
    assert.deepEqual(
      { ...view, payload: new Uint8Array(view.payload) },
      toOperatorPulse(inputs[i]),
    );
  }
  assert.deepEqual(decodeBatch(encodeBatch([])), []);
});

const asOutputs = pulses.map((p) => ({ ...p, reality: "" }));
const built = buildOutputs(
  { ...inputs[0], headers: { "arqon-hops": "2" }, semtrace: ["a.b"] },
  asOutputs,
  "sum",
  "default",
);

Deno.test("outputs are built in the worker: hops, trace, semantic trace, derived stamp", () => {
  assert.equal(built.hops, 3);
  assert.equal(built.outputs.length, 3);
  for (const [i, out] of built.outputs.entries()) {
    assert.equal(out.headers["arqon-hops"], "3");
    assert.deepEqual(out.semtrace, ["a.b", "operator:sum"]);
    assert.match(out.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // The same derivation the replay digests rely on (docs/time.md).
    const d = deriveOutput(derivationOf(inputs[0]), "sum", i);
    assert.equal(out.id, d.id);
    assert.equal(out.entropySeed, d.entropySeed);
    assert.deepEqual({ wallMs: out.wallMs, logical: out.logical }, d.timestamp);
    // The encoding carries the fields, without id, time or seed (the stamp's).
    const decoded = decodePulse(out.source!);
    assert.equal(decoded.topic, pulses[i].topic);
    assert.equal(decoded.realityId, "default");
    assert.deepEqual(new Uint8Array(decoded.payload ?? []), pulses[i].payload);
    assert.equal(decoded.id, "");
  }
});

Deno.test("outcomes (outputs, state writes, deletes, failures) round-trip; payloads are copies", () => {
  const outcomes: PulseOutcome[] = [
    {
      ok: true,
      hops: built.hops,
      outputs: built.outputs,
      changes: [["sum", b("35")], ["gone", null], ["empty", new Uint8Array(0)]],
      fuel: 50_580,
      ms: 0.0123,
    },
    { ok: false, kind: "fuel", message: "out of fuel: ünïcode", ms: 3.5 },
    { ok: true, hops: 1, outputs: [], changes: [], fuel: 0, ms: 0 },
  ];
  const packed = encodeOutcomes(outcomes);
  const back = decodeOutcomes(packed);
  assert.deepEqual(back, outcomes);
  const first = back[0] as Extract<PulseOutcome, { ok: true }>;
  // A copy (carved from a slab of copies): it does not keep the whole message alive in the
  // store, and outlives whatever happens to the message.
  assert.notEqual(first.outputs[0].payload.buffer, packed);
  new Uint8Array(packed).fill(0);
  assert.deepEqual(back[0], outcomes[0]);
});

Deno.test("a truncated packed message is a RangeError, not garbage", () => {
  const packed = encodeOutcomes([
    { ok: true, hops: 1, outputs: built.outputs, changes: [], fuel: 1, ms: 1 },
  ]);
  assert.throws(() => decodeOutcomes(packed.slice(0, packed.byteLength - 3)), RangeError);
  const batch = encodeBatch(inputs.map((p) => new StampedPulse(p)));
  assert.throws(() => decodeBatch(batch.slice(0, 20)), RangeError);
});

Deno.test("outcomes decode repeated and changing strings right (the reader's remembered strings)", () => {
  const base = built.outputs[0];
  for (
    const topics of [["t.aa", "t.ab", "t.aa"], ["t.ab", "t.ab", "x"], ["t.aa", "t.aa", "t.aa"]]
  ) {
    const outcomes: PulseOutcome[] = topics.map((topic, i) => ({
      ok: true,
      hops: 1,
      outputs: [{ ...base, topic, contentType: i % 2 ? "text/plain" : "text/plaim" }],
      changes: [[i % 2 ? "k1" : "k2", b(String(i))]],
      fuel: 1,
      ms: 0,
    }));
    assert.deepEqual(decodeOutcomes(encodeOutcomes(outcomes)), outcomes);
  }
});
