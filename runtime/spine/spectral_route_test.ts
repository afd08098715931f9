import assert from "node:assert/strict";
import { NodeMetrics } from "../telemetry/mod.ts";
import { BusError, compileSpectralFilter, type ISpectral } from "../protocol/mod.ts";
import { Spine, StampedPulse, type Subscription, type SubscriptionOwner } from "./mod.ts";

const owner: SubscriptionOwner = { wake() {}, overflowed() {} };
const spine = () =>
  new Spine({
    metrics: new NodeMetrics(),
    queue: { maxMessages: 100, maxBytes: 1 << 20, overflow: "drop-oldest" },
  });
const filter = (text: string) => compileSpectralFilter(text);
const pub = (s: Spine, n: number, spectral?: ISpectral) =>
  s.publish({ topic: "mesh.x", payload: new Uint8Array([n]), spectral }, "p");
const got = (sub: Subscription) => sub.take(100).map((p) => p.pulse.payload![0]);

Deno.test("a spectral filter delivers only matching pulses; unfiltered subscribers get all", () => {
  const s = spine();
  const all = s.subscribe(owner, { id: 1, pattern: "mesh.>" });
  const high = s.subscribe(owner, {
    id: 2,
    pattern: "mesh.>",
    spectralFilter: filter("coherence >= 0.75"),
  });
  pub(s, 1, { coherence: 0.9 });
  pub(s, 2, { coherence: 0.5 });
  pub(s, 3); // no spectral: never matches a filter
  pub(s, 4, { coherence: 0.75, criticality: 3 });
  assert.deepEqual(got(all), [1, 2, 3, 4]);
  assert.deepEqual(got(high), [1, 4]);
});

Deno.test("a queue group gives each pulse to one member whose filter accepts it", () => {
  const s = spine();
  const low = s.subscribe(owner, {
    id: 1,
    pattern: "mesh.>",
    queueGroup: "g",
    spectralFilter: filter("coherence < 0.5"),
  });
  const any1 = s.subscribe(owner, { id: 2, pattern: "mesh.>", queueGroup: "g" });
  const high = s.subscribe(owner, {
    id: 3,
    pattern: "mesh.>",
    queueGroup: "h",
    spectralFilter: filter("coherence > 0.99"),
  });
  for (let i = 0; i < 10; i++) pub(s, i, { coherence: i / 10 });
  const a = got(low);
  const b = got(any1);
  // Group g: every pulse once; the filtered member only ever gets coherence < 0.5.
  assert.deepEqual([...a, ...b].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(a.every((n) => n < 5), `${a}`);
  assert.ok(b.includes(5) && b.includes(9));
  // Group h: no member accepts any of them, nothing is delivered.
  assert.deepEqual(got(high), []);
});

Deno.test("invalid spectral metadata on publish is INVALID_ARGUMENT and nothing is routed", () => {
  const s = spine();
  const all = s.subscribe(owner, { id: 1, pattern: ">" });
  for (
    const bad of [
      { coherence: NaN },
      { criticality: Infinity },
      { eigenvalues: new Array(65).fill(1) },
    ]
  ) {
    assert.throws(() => pub(s, 1, bad), (e: unknown) => {
      assert.ok(e instanceof BusError);
      assert.equal(e.code, "INVALID_ARGUMENT");
      return true;
    });
  }
  pub(s, 2, { eigenvalues: new Array(64).fill(1) });
  assert.deepEqual(got(all), [2]);
  assert.equal(s.reality("default").sequence, 1);
});

Deno.test("replayed history passes the same filter", () => {
  const s = spine();
  const sub = s.subscribe(owner, {
    id: 1,
    pattern: ">",
    spectralFilter: filter("criticality < 0.2"),
  });
  sub.beginReplay();
  sub.feedReplay([
    new StampedPulse({ topic: "a", payload: new Uint8Array([1]), spectral: { criticality: 0.1 } }),
    new StampedPulse({ topic: "a", payload: new Uint8Array([2]), spectral: { criticality: 0.3 } }),
    new StampedPulse({ topic: "a", payload: new Uint8Array([3]) }),
  ]);
  sub.endReplay();
  assert.deepEqual(got(sub), [1]);
});
