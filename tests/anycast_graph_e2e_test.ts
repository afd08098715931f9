/**
 * Semantic anycast past the exact-search threshold, end to end (issue 16 item 4): a real
 * node on an ephemeral port with `--anycast-exact-max 32`; 60 agents' subscriptions from
 * hand-built protobuf frames make the node build its usearch graph; anycast publishes from
 * a raw client reach the nearest subscription (checked against the vectors), and an agent
 * that joins or leaves after the graph is built is found, or never chosen, at once.
 */
import assert from "node:assert/strict";
import { F, msg, num, pb, type PbField } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { withNode } from "./support/node.ts";
import { DEFAULT_REALITY } from "../runtime/spine/mod.ts";

const DIM = 16;
/** Generous: a loaded 2-core machine running tests in parallel. */
const WAIT_MS = 30_000;
const enc = new TextEncoder();

/** A deterministic direction per seed (never all zero). */
function vector(seed: number): number[] {
  return Array.from({ length: DIM }, (_, j) => Math.sin(seed * 12.9898 + j * 78.233) * 2 + 0.01);
}
const floats = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const subscribe = (id: number, v: number[]) =>
  pb([[F.subscribe, [[1, id], [3, "agents.task"], [12, id], [14, [[1, [[1, floats(v)]]]]]]]]);
const publish = (corr: number, v: number[]) =>
  pb([[F.publish, [
    [1, corr],
    [2, 1],
    [3, [[3, "agents.task"], [11, enc.encode("job")]]],
    [4, [[1, floats(v)]] as PbField[]],
  ]]]);

async function client(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, "arqon.v1.proto");
  s.send(pb([[F.hello, [[1, name], [2, 1]]]]));
  await s.wait(F.welcome);
  return s;
}

async function subscribeAll(s: RawSocket, subs: [number, number[]][]): Promise<void> {
  for (const [id, v] of subs) s.send(subscribe(id, v));
  await s.until(
    () => s.received.filter(([k]) => k === F.subscribed).length === subs.length,
    "all subscribed",
    WAIT_MS,
  );
  assert.ok(!s.received.some(([k]) => k === F.error), "no subscription refused");
}

const deliveries = (s: RawSocket) => s.received.filter(([k]) => k === F.deliver).map(([, m]) => m);

function cosine(a: number[], b: number[]): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    [d, na, nb] = [d + a[i] * b[i], na + a[i] ** 2, nb + b[i] ** 2];
  }
  return d / Math.sqrt(na * nb);
}

Deno.test("anycast graph e2e: past exact-max the nearest is chosen; joins and leaves count at once", async () => {
  await withNode(async (node) => {
    const fleet = await client(node.wsUrl, "fleet");
    const vectors = new Map<number, number[]>();
    for (let id = 1; id <= 60; id++) vectors.set(id, vector(id));
    await subscribeAll(fleet, [...vectors]);
    const index = node.spine.anycast.of(DEFAULT_REALITY).indexOf(DIM)!;
    await index.settled();
    // Fails when the usearch addon did not load in the node (search would stay exact).
    assert.ok(index.approximate, "the node searches by its graph");

    // Queries near each agent's vector, routed by the graph; the expected receiver is the
    // exact nearest, computed here from the vectors.
    const caller = await client(node.wsUrl, "caller");
    const queries = [...vectors].map((
      [id, v],
    ) => [id, v.map((x, j) => x + 0.05 * Math.cos(id + j))]);
    queries.forEach(([id, q]) => caller.send(publish(id as number, q as number[])));
    await fleet.until(() => deliveries(fleet).length === 60, "60 deliveries", WAIT_MS);
    let agree = 0;
    deliveries(fleet).forEach((d, i) => {
      const q = queries[i][1] as number[];
      let best = -2, bestId = -1;
      for (const [id, v] of vectors) {
        const c = cosine(q, v);
        if (c > best) [best, bestId] = [c, id];
      }
      if (num(d, 1) === bestId) agree++;
      // The delivered score is the exact cosine with the chosen subscription's vector.
      const score = new DataView((msg(d, 3).get(2)![0] as Uint8Array).slice().buffer)
        .getFloat32(0, true);
      assert.ok(Math.abs(score - cosine(q, vectors.get(num(d, 1))!)) < 1e-4, `score ${score}`);
    });
    assert.ok(agree >= 57, `recall@1 ${agree}/60 through the node`);

    // A join after the graph is built: its own direction goes to it at once.
    const late = await client(node.wsUrl, "late");
    const lateVector = vector(1000);
    await subscribeAll(late, [[1, lateVector]]);
    caller.send(publish(500, lateVector));
    await late.until(
      () => deliveries(late).length === 1,
      "the late agent's delivery",
      WAIT_MS,
    );

    // A leave: its direction goes to the nearest agent still there.
    await late.close();
    let nearestLeft = -1;
    let best = -2;
    for (const [id, v] of vectors) {
      const c = cosine(lateVector, v);
      if (c > best) [best, nearestLeft] = [c, id];
    }
    // The node drops the subscription when it reads the close: publish until it is gone.
    let corr = 600;
    await fleet.until(
      () => {
        caller.send(publish(corr++, lateVector));
        return deliveries(fleet).some((d) => num(d, 1) === nearestLeft);
      },
      "a delivery to the nearest remaining agent",
      WAIT_MS,
    );
    assert.ok(index.approximate);
    await Promise.all([fleet, caller].map((s) => s.close()));
  }, { anycastDim: DIM, anycastExactMax: 32 });
});
