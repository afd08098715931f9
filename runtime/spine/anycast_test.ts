import assert from "node:assert/strict";
import { AnycastRegistry } from "./anycast.ts";
import { VectorIndex } from "./anycast_index.ts";
import { checkedK, checkedMinScore, scaleInto, unitScale, unitVector } from "./anycast_vector.ts";
import { Subscription } from "./subscription.ts";
import { Spine } from "./spine.ts";
import type { GuardVerdict } from "./ports.ts";
import { BusError } from "../protocol/mod.ts";
import { NodeMetrics } from "../telemetry/mod.ts";

const owner = { wake() {}, overflowed() {} };
let nextId = 1;
function sub(): Subscription {
  return new Subscription(
    {
      id: nextId++,
      realityId: "r",
      pattern: "agents.task",
      queueGroup: "",
      overflow: "drop-oldest",
      maxMessages: 10,
      maxBytes: 1 << 20,
      maxInFlight: 0,
    },
    owner,
    () => {},
  );
}

/** A deterministic pseudo-random generator (tests must not depend on luck). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function randomUnit(dim: number, next: () => number): Float32Array {
  return unitVector(Array.from({ length: dim }, next), dim, "v");
}

const LIMITS = { maxPerSubscription: 4, maxPerReality: 10, exactMax: 2048 };

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BusError, String(e));
    return e.code;
  }
  return "none";
}

Deno.test("anycast vectors: wrong dimension, NaN, Inf, zero, k and min_score are INVALID_ARGUMENT", () => {
  assert.deepEqual([...unitVector([3, 4], 2, "v")].map((x) => +x.toFixed(3)), [0.6, 0.8]);
  assert.equal(code(() => unitVector([1, 2, 3], 2, "v")), "INVALID_ARGUMENT");
  assert.equal(code(() => unitVector([NaN, 1], 2, "v")), "INVALID_ARGUMENT");
  assert.equal(code(() => unitVector([Infinity, 1], 2, "v")), "INVALID_ARGUMENT");
  assert.equal(code(() => unitVector([0, 0], 2, "v")), "INVALID_ARGUMENT");
  assert.equal(code(() => unitVector([1, 0], 0, "v")), "INVALID_ARGUMENT");
  assert.equal(checkedK(0), 1);
  assert.equal(checkedK(32), 32);
  assert.equal(code(() => checkedK(33)), "INVALID_ARGUMENT");
  assert.equal(code(() => checkedMinScore(1.5)), "INVALID_ARGUMENT");
  assert.equal(code(() => checkedMinScore(NaN)), "INVALID_ARGUMENT");
});

Deno.test("anycast vectors: unitScale checks as unitVector does and scales to the same unit vector", () => {
  const values = [3, -4, 12, 0, 0.5]; // float32 values: the same from either array
  const out = new Float32Array(5);
  scaleInto(values, unitScale(values, 5, "v"), out);
  assert.deepEqual(out, unitVector(values, 5, "v"));
  // Float32Array input, as the wire reader gives it: the same answer.
  scaleInto(Float32Array.from(values), unitScale(Float32Array.from(values), 5, "v"), out);
  assert.deepEqual(out, unitVector(values, 5, "v"));
  for (const bad of [[1, 2, 3], [NaN, 1], [1, -Infinity], [0, 0], [1e-200, 0]]) {
    assert.equal(code(() => unitScale(bad, 2, "v")), "INVALID_ARGUMENT", String(bad));
  }
  assert.equal(code(() => unitScale([1, 0], 0, "v")), "INVALID_ARGUMENT");
  assert.match(
    (() => {
      try {
        unitScale([1, 2, NaN, 4, 5], 5, "vector");
      } catch (e) {
        return (e as Error).message;
      }
    })()!,
    /vector\[2\] is not a finite number/,
  );
});

Deno.test("anycast registry: nearest by cosine, min_score, k, and the matching embedding", () => {
  const reg = new AnycastRegistry(LIMITS);
  const [a, b, c] = [sub(), sub(), sub()];
  reg.register(a, [unitVector([1, 0, 0], 3, "v")], 0.5, 3);
  reg.register(b, [unitVector([0, 0, 1], 3, "v"), unitVector([0, 1, 0], 3, "v")], 0.5, 3);
  reg.register(c, [unitVector([0, 1, 1], 3, "v")], 0.99, 3);
  const route = { direct: [a, b, c], groups: [] };
  const q = unitVector([0.1, 1, 0], 3, "q");
  const one = reg.choose(route, q, 1);
  assert.equal(one.length, 1);
  assert.equal(one[0].sub, b);
  assert.equal(one[0].match.embedding, 1);
  assert.ok(Math.abs(one[0].match.score! - 1 / Math.hypot(0.1, 1)) < 1e-6);
  // c's best score (~0.70) is under its min_score 0.99; a's (~0.0995) under 0.5.
  assert.deepEqual(reg.choose(route, q, 3).map((x) => x.sub), [b]);
  // Gone: never chosen again.
  reg.unregister(b);
  assert.deepEqual(reg.choose({ direct: [a, c], groups: [] }, q, 3), []);
  assert.equal(reg.embeddings, 2);
});

Deno.test("anycast registry: ties go round robin", () => {
  const reg = new AnycastRegistry(LIMITS);
  const subs = [sub(), sub(), sub()];
  for (const s of subs) reg.register(s, [unitVector([1, 1], 2, "v")], 0, 2);
  const route = { direct: subs, groups: [] };
  const q = unitVector([1, 0], 2, "q");
  const picks = Array.from({ length: 6 }, () => reg.choose(route, q, 1)[0].sub.spec.id);
  const ids = subs.map((s) => s.spec.id);
  assert.deepEqual(picks, [...ids, ...ids]);
});

Deno.test("anycast registry: bounds per subscription and per reality are typed", () => {
  const reg = new AnycastRegistry(LIMITS);
  const v = unitVector([1, 0], 2, "v");
  assert.equal(code(() => reg.register(sub(), [v, v, v, v, v], 0, 2)), "INVALID_ARGUMENT");
  for (let i = 0; i < 5; i++) reg.register(sub(), [v, v], 0, 2);
  assert.equal(reg.embeddings, 10);
  assert.equal(code(() => reg.register(sub(), [v], 0, 2)), "QUOTA_EXCEEDED");
  assert.equal(reg.embeddings, 10);
});

/** The slot of `slots` exactly nearest to `query` (a plain scan). */
function exactNearest(index: VectorIndex, slots: Iterable<number>, query: Float32Array): number {
  let best = -2;
  let bestSlot = -1;
  for (const s of slots) {
    const score = index.score(query, s);
    if (score > best) [best, bestSlot] = [score, s];
  }
  return bestSlot;
}

/**
 * Random embeddings shaped like capabilities: `n` vectors spread around `centres` random
 * directions. (Uniform random vectors have no neighbourhoods for a graph to follow: on
 * them HNSW's recall@1 at the node's search breadth falls to 0.57 at dimension 128,
 * docs/anycast.md. Embeddings of real capabilities cluster.)
 */
function clustered(n: number, centres: number, dim: number, next: () => number): Float32Array[] {
  const cs = Array.from({ length: centres }, () => randomUnit(dim, next));
  return Array.from(
    { length: n },
    (_, i) => unitVector(Array.from(cs[i % centres], (x) => x + 0.1 * next()), dim, "v"),
  );
}

Deno.test("vector index: past exactMax the usearch graph agrees with exact search (recall@1 >= 0.9)", async () => {
  const dim = 64;
  const next = rng(7);
  const rows = clustered(3000, 100, dim, next);
  const index = new VectorIndex(dim, { exactMax: 256 });
  const slots = rows.slice(0, 256).map((r) => index.add(r));
  await index.settled();
  assert.equal(index.approximate, false, "exact up to exactMax");
  assert.equal(index.nearest(rows[0], 1), undefined);
  for (const r of rows.slice(256)) slots.push(index.add(r));
  await index.settled();
  // Fails here when the usearch addon did not load (search would silently stay exact).
  assert.ok(index.approximate, "a graph past exactMax");
  assert.equal(index.graphSize, 3000);
  let agree = 0;
  for (let q = 0; q < 200; q++) {
    const near = rows[Math.floor((next() + 0.5) * rows.length)];
    const query = unitVector(Array.from(near, (x) => x + 0.05 * next()), dim, "q");
    const hits = index.nearest(query, 4)!;
    assert.ok(hits.length === 4, "as many hits as asked");
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score);
    // Scores are exact cosines, not the graph's quantized distances.
    assert.equal(hits[0].score, index.score(query, hits[0].slot));
    if (hits[0].slot === exactNearest(index, slots, query)) agree++;
  }
  assert.ok(agree >= 180, `recall@1 ${agree}/200`);
});

Deno.test("vector index: joins and leaves change the graph at once; churn reuses its memory", async () => {
  const dim = 16;
  const next = rng(9);
  const index = new VectorIndex(dim, { exactMax: 64 });
  const rows: Float32Array[] = [];
  for (let i = 0; i < 400; i++) rows.push(randomUnit(dim, next));
  const slots = rows.map((r) => index.add(r));
  await index.settled();
  assert.ok(index.approximate);
  // A leave: the vector is never returned again, not even for its own direction.
  index.remove(slots[5]);
  assert.ok(!index.nearest(rows[5], 8)!.some((h) => h.slot === slots[5]));
  // A join into the freed slot is found at once under its new vector.
  const fresh = randomUnit(dim, next);
  const reused = index.add(fresh);
  assert.equal(reused, slots[5]);
  assert.equal(index.nearest(fresh, 1)![0].slot, reused);
  // A join into a new slot likewise.
  const other = randomUnit(dim, next);
  const added = index.add(other);
  assert.equal(index.nearest(other, 1)![0].slot, added);
  assert.equal(index.graphSize, 401);
  // 2,000 joins and leaves: the graph holds the live vectors only.
  for (let i = 0; i < 2000; i++) index.remove(index.add(randomUnit(dim, next)));
  assert.equal(index.size, 401);
  assert.equal(index.graphSize, 401);
  // Small again: the graph is dropped, exact search answers.
  for (const s of slots.slice(0, 380)) index.remove(s);
  assert.equal(index.approximate, false);
  assert.equal(index.graphSize, 0);
});

Deno.test("anycast registry: past exactMax the graph answers, also for a topic's subset", async () => {
  const reg = new AnycastRegistry({ maxPerSubscription: 4, maxPerReality: 1000, exactMax: 32 });
  const next = rng(11);
  const subs = Array.from({ length: 300 }, () => sub());
  const vecs = subs.map(() => randomUnit(16, next));
  subs.forEach((s, i) => reg.register(s, [vecs[i]], -1, 16));
  await reg.indexOf(16)!.settled();
  assert.ok(reg.indexOf(16)!.approximate);
  const half = { direct: subs.slice(0, 150), groups: [] };
  let agree = 0;
  for (let q = 0; q < 60; q++) {
    const query = randomUnit(16, next);
    const [got] = reg.choose(half, query, 1);
    assert.ok(half.direct.includes(got.sub), "only the topic's subscriptions");
    let best = -2;
    let bestSub: Subscription | undefined;
    half.direct.forEach((s, i) => {
      let d = 0;
      for (let j = 0; j < 16; j++) d += vecs[i][j] * query[j];
      if (d > best) [best, bestSub] = [d, s];
    });
    if (got.sub === bestSub) agree++;
  }
  assert.ok(agree >= 54, `recall@1 ${agree}/60 on the subset`);
});

Deno.test("anycast registry: past exactMax, ties are taken in turn among all tied subscriptions", async () => {
  const reg = new AnycastRegistry({ maxPerSubscription: 4, maxPerReality: 1000, exactMax: 32 });
  const next = rng(23);
  // 40 subscriptions share one embedding, among 200 others: far more than the graph's
  // first answer (2k + 2 hits) holds.
  const shared = randomUnit(16, next);
  const subs = Array.from({ length: 240 }, () => sub());
  const tied = new Set(subs.filter((_, i) => i % 6 === 0));
  subs.forEach((s) => reg.register(s, [tied.has(s) ? shared : randomUnit(16, next)], -1, 16));
  await reg.indexOf(16)!.settled();
  assert.ok(reg.indexOf(16)!.approximate, "the graph answers");
  const route = { direct: subs, groups: [] };
  const chosen: Subscription[] = [];
  for (let i = 0; i < tied.size; i++) chosen.push(reg.choose(route, shared, 1)[0].sub);
  // Each tied subscription once, in registration order.
  assert.deepEqual(chosen.map((s) => s.spec.id), [...tied].map((s) => s.spec.id));
  // k 3: three at a time, still in turn.
  const three = reg.choose(route, shared, 3).map((c) => c.sub.spec.id);
  assert.deepEqual(three, [...tied].slice(0, 3).map((s) => s.spec.id));
});

Deno.test("vector index: search reuses one answer; searches back to back are independent", async () => {
  const dim = 16;
  const next = rng(31);
  const index = new VectorIndex(dim, { exactMax: 64 });
  const rows = clustered(400, 20, dim, next);
  const slots = rows.map((r) => index.add(r));
  await index.settled();
  assert.ok(index.approximate);
  const copy = (h: { count: number; slots: Int32Array; scores: Float64Array }) =>
    Array.from({ length: h.count }, (_, i) => [h.slots[i], h.scores[i]]);
  const qa = rows[3];
  const a = copy(index.search(qa, 8)!);
  assert.equal(a.length, 8);
  assert.equal(a[0][0], slots[3], "its own vector first");
  // The opposite direction: none of a's hits is near it. Fewer asked: no place of a's
  // answer past the count may be read as b's.
  const qb = qa.map((x) => -x);
  const b = index.search(qb, 2)!;
  assert.equal(b.count, 2);
  for (let i = 0; i < b.count; i++) {
    assert.ok(!a.some(([slot]) => slot === b.slots[i]), "no hit of the search before");
    assert.equal(b.scores[i], index.score(qb, b.slots[i]), "the true float32 cosine");
  }
  assert.ok(b.scores[0] >= b.scores[1], "best first");
  // The same search again gives the same answer, whatever came between; `nearest` copies it.
  assert.deepEqual(copy(index.search(qa, 8)!), a);
  const kept = index.nearest(qa, 8)!;
  index.search(qb, 8);
  assert.deepEqual(kept.map((h) => [h.slot, h.score]), a);
  // A leave between two searches: the second never returns it.
  index.remove(slots[3]);
  const after = copy(index.search(qa, 8)!);
  assert.ok(!after.some(([slot]) => slot === slots[3]));
  for (let i = 1; i < after.length; i++) assert.ok(after[i - 1][1] >= after[i][1]);
  // More than the answer held before: it grows, and the answer is complete.
  assert.equal(index.search(qa, 64)!.count, 64);
});

for (const graph of [false, true]) {
  Deno.test(`anycast registry (${graph ? "graph" : "exact"}): choices back to back are independent`, async () => {
    const reg = new AnycastRegistry({
      maxPerSubscription: 4,
      maxPerReality: 1000,
      exactMax: graph ? 32 : 2048,
    });
    const next = rng(41);
    const dim = 16;
    const subs = Array.from({ length: 200 }, () => sub());
    const vecs = subs.map(() => randomUnit(dim, next));
    // Each subscription also registers a second embedding: the best one is reported.
    subs.forEach((s, i) => reg.register(s, [randomUnit(dim, next), vecs[i]], 0.9, dim));
    await reg.indexOf(dim)!.settled();
    assert.equal(reg.indexOf(dim)!.approximate, graph);
    const route = { direct: subs, groups: [] };
    const [first] = reg.choose(route, vecs[7], 1);
    assert.equal(first.sub, subs[7]);
    assert.deepEqual(first.match, {
      embedding: 1,
      score: reg.indexOf(dim)!.score(vecs[7], 1 + 7 * 2),
    });
    // A direction nobody reaches 0.9 with: nothing, although the choice before found one.
    const nobody = unitVector(vecs[7].map((x, i) => i % 2 ? x : -x), dim, "q");
    assert.deepEqual(reg.choose(route, nobody, 3), []);
    // Then another one's direction: only it (the others stay under 0.9), k 3 or not.
    assert.deepEqual(reg.choose(route, vecs[150], 3).map((c) => c.sub), [subs[150]]);
    assert.deepEqual(reg.choose(route, vecs[7], 1).map((c) => c.sub), [subs[7]]);
  });
}

Deno.test("spine anycast: pulses waiting on an async guard each reach their own nearest", async () => {
  const spine = new Spine({
    metrics: new NodeMetrics(),
    queue: { maxMessages: 16, maxBytes: 1 << 20, overflow: "drop-oldest" },
    anycast: { exactMax: 8 },
  });
  const dim = 8;
  spine.anycast.dimension = () => dim;
  const next = rng(53);
  const vecs = Array.from({ length: 40 }, () => randomUnit(dim, next));
  const subs = vecs.map((v, i) =>
    spine.subscribe(owner, { id: 1000 + i, pattern: "agents.task", anycast: { vectors: [v] } })
  );
  await spine.anycast.of("default").indexOf(dim)?.settled();
  const waiting: (() => void)[] = [];
  spine.setGuard({
    inspect: () =>
      new Promise<GuardVerdict>((resolve) => waiting.push(() => resolve({ allow: true }))),
  });
  // Three publishes decided later, their vectors scaled (not unit) as given: each is
  // routed by its own vector when the guard lets it through.
  const targets = [4, 17, 33];
  const pending = targets.map((t) =>
    spine.publish({ topic: "agents.task" }, "p", undefined, undefined, {
      vector: Array.from(vecs[t], (x) => 3 * x),
    })
  );
  assert.equal(waiting.length, 3);
  for (const go of waiting.reverse()) go();
  const stamped = await Promise.all(pending);
  targets.forEach((t, i) => {
    const [[chosen, match]] = [...stamped[i].anycast!];
    assert.equal(chosen, subs[t]);
    assert.ok(Math.abs(match.score! - 1) < 1e-6, "the cosine of the unit query");
  });
});
