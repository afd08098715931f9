/**
 * mesh-coherence in the operator sandbox against its TypeScript reference: random reports
 * at random logical times (values within 1e-9), expiry by the pulses' logical time, its
 * bounds (max_nodes, the state limit) driven past, bad input and bad configuration.
 */
import assert from "node:assert/strict";
import { ComponentRejectedError, Engine, SandboxTrapError } from "../../../runtime/sandbox/mod.ts";
import { loadOperator, type OperatorPulse, OperatorSandbox, OperatorState } from "../../mod.ts";
import { meshCoherenceComponent, type MeshGlobal, MeshReference, type MeshReport } from "./mod.ts";

const engine = new Engine();
const component = await meshCoherenceComponent();
const LIMITS = { maxOutputs: 4, maxOutputBytes: 4096 };
const enc = new TextEncoder();
const dec = new TextDecoder();

async function mesh(config: unknown = {}, stateBytes = 1 << 20): Promise<OperatorSandbox> {
  return new OperatorSandbox(
    await loadOperator(engine, component),
    new OperatorState(stateBytes),
    JSON.stringify(config),
  );
}

function pulse(report: unknown, wallMs: number, logical = 0): OperatorPulse {
  return {
    topic: "mesh.node.phase",
    reality: "default",
    producer: "sensor",
    headers: [],
    contentType: "application/json",
    payload: enc.encode(typeof report === "string" ? report : JSON.stringify(report)),
    entropySeed: 1n,
    wallMs: BigInt(wallMs),
    logical,
  };
}

/** Feeds one report; returns the output payload and checks the output's envelope. */
function feed(op: OperatorSandbox, report: unknown, wallMs: number, threshold = 0.75): MeshGlobal {
  const r = op.handle(pulse(report, wallMs), LIMITS);
  assert.equal(r.outputs.length, 1);
  const out = r.outputs[0];
  assert.equal(out.topic, "mesh.coherence.global");
  assert.equal(out.contentType, "application/json");
  const global = JSON.parse(dec.decode(out.payload)) as MeshGlobal;
  assert.equal(out.spectral?.coherence, global.global_coherence);
  assert.ok(Math.abs(out.spectral!.criticality - (global.global_coherence - threshold)) < 1e-12);
  assert.deepEqual(out.spectral?.eigenvalues, []);
  return global;
}

function close(got: MeshGlobal, want: MeshGlobal, what: string): void {
  const near = (a: number, b: number, field: string) =>
    assert.ok(Math.abs(a - b) <= 1e-9, `${what}: ${field} ${a} vs ${b}`);
  near(got.global_phase.real, want.global_phase.real, "real");
  near(got.global_phase.imag, want.global_phase.imag, "imag");
  near(got.global_coherence, want.global_coherence, "coherence");
  assert.equal(got.live_nodes, want.live_nodes, `${what}: live_nodes`);
  assert.equal(got.emerged, want.emerged, `${what}: emerged`);
}

/** A small deterministic PRNG (mulberry32), so a failure reproduces from its seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("mesh-coherence matches the TypeScript reference on random reports and times", async () => {
  for (const seed of [1, 2, 3]) {
    const random = prng(seed);
    const threshold = 0.3 + random() * 0.6;
    const op = await mesh({ emergence_threshold: threshold });
    const ref = new MeshReference(threshold);
    let wall = 1_000 + Math.floor(random() * 1e6);
    const taus = new Map<string, number>();
    let emergedSeen = 0;
    let expiredSeen = 0;
    for (let i = 0; i < 400; i++) {
      wall += Math.floor(random() * 40);
      const id = `node-${Math.floor(random() * 24)}`;
      if (!taus.has(id)) taus.set(id, Math.floor(random() * 400));
      const report: MeshReport = {
        node_id: id,
        phase: { real: random() * 2 - 1, imag: random() * 2 - 1 },
        coherence: random(),
        weight: random() < 0.1 ? 0 : random() * 10,
        tau_ms: taus.get(id)!,
      };
      const want = ref.handle(report, wall);
      const got = feed(op, report, wall, threshold);
      close(got, want, `seed ${seed} pulse ${i}`);
      if (got.emerged) emergedSeen++;
      if (got.live_nodes < new Set([...taus.keys()]).size) expiredSeen++;
    }
    // The random walk exercised both sides of the threshold and expiry.
    assert.ok(emergedSeen > 0 && emergedSeen < 400, `seed ${seed}: ${emergedSeen} emerged`);
    assert.ok(expiredSeen > 0, `seed ${seed}: some reports expired`);
  }
});

Deno.test("reports expire by the pulses' logical time, not the wall clock", async () => {
  const op = await mesh();
  const a = { node_id: "a", phase: { real: 1, imag: 0 }, coherence: 0.9, weight: 3, tau_ms: 100 };
  const b = { node_id: "b", phase: { real: 0, imag: 1 }, coherence: 0.5, weight: 1, tau_ms: 1000 };
  // Logical times from 1970: the wall clock says every report is decades old.
  let g = feed(op, a, 1_000);
  assert.deepEqual(g, {
    global_phase: { real: 1, imag: 0 },
    global_coherence: 0.9,
    live_nodes: 1,
    emerged: true,
  });
  g = feed(op, b, 1_050);
  assert.equal(g.live_nodes, 2);
  assert.equal(g.global_phase.real, 0.75);
  assert.equal(g.global_phase.imag, 0.25);
  assert.ok(Math.abs(g.global_coherence - 0.7) < 1e-15);
  assert.equal(g.emerged, false);
  // At exactly tau_ms old, a is still live; one ms later it is gone.
  g = feed(op, b, 1_100);
  assert.equal(g.live_nodes, 2);
  g = feed(op, b, 1_101);
  assert.equal(g.live_nodes, 1);
  assert.deepEqual(g.global_phase, { real: 0, imag: 1 });
  // A fresh report brings a back; a long gap in logical time expires both but the sender.
  g = feed(op, a, 1_200);
  assert.equal(g.live_nodes, 2);
  g = feed(op, a, 5_000);
  assert.equal(g.live_nodes, 1);
  assert.equal(g.global_coherence, 0.9);
  // A later pulse with an earlier stamp (another instance's) counts as age 0, not negative.
  g = feed(op, b, 4_990);
  assert.equal(g.live_nodes, 2);
});

Deno.test("all weights zero: the global phase is 0; the mean coherence still counts", async () => {
  const op = await mesh();
  const r = { phase: { real: 1, imag: 1 }, coherence: 0.8, weight: 0, tau_ms: 10 };
  feed(op, { node_id: "a", ...r }, 0);
  const g = feed(op, { node_id: "b", ...r, coherence: 1 }, 1);
  assert.deepEqual(g, {
    global_phase: { real: 0, imag: 0 },
    global_coherence: 0.9,
    live_nodes: 2,
    emerged: true,
  });
});

Deno.test("the state lives in the host: a new instance continues from it", async () => {
  const state = new OperatorState(1 << 20);
  const module = await loadOperator(engine, component);
  const r = { phase: { real: 1, imag: 0 }, coherence: 0.8, weight: 1, tau_ms: 1e9 };
  const one = new OperatorSandbox(module, state, "{}");
  feed(one, { node_id: "a", ...r }, 10);
  feed(one, { node_id: "b", ...r }, 20);
  const two = new OperatorSandbox(module, state, "{}");
  assert.equal(feed(two, { node_id: "c", ...r }, 30).live_nodes, 3);
});

Deno.test("max_nodes bounds the live nodes: further nodes are ignored until others expire", async () => {
  const op = await mesh({ max_nodes: 3 });
  const r = { phase: { real: 1, imag: 0 }, coherence: 1, weight: 1, tau_ms: 100 };
  for (const [i, id] of ["a", "b", "c"].entries()) {
    assert.equal(feed(op, { node_id: id, ...r }, i).live_nodes, i + 1);
  }
  const past = feed(op, { node_id: "d", ...r, coherence: 0 }, 3);
  assert.equal(past.live_nodes, 3);
  assert.equal(past.global_coherence, 1, "d's report was not counted");
  // Known nodes still report; once the others expire there is room again.
  assert.equal(feed(op, { node_id: "a", ...r }, 50).live_nodes, 3);
  assert.equal(feed(op, { node_id: "d", ...r, coherence: 0 }, 140).live_nodes, 2);
});

Deno.test("over the state limit the pulse fails (counted) and the committed state stays", async () => {
  // Room for about two nodes: the third makes `state-set` refuse.
  const op = await mesh({}, 140);
  const r = { phase: { real: 1, imag: 0 }, coherence: 1, weight: 1, tau_ms: 1e9 };
  feed(op, { node_id: "a", ...r }, 0);
  feed(op, { node_id: "b", ...r }, 1);
  assert.throws(() => op.handle(pulse({ node_id: "c", ...r }, 2), LIMITS), (e: unknown) => {
    assert.ok(e instanceof SandboxTrapError, String(e));
    return true;
  });
  assert.equal(feed(op, { node_id: "a", ...r }, 3).live_nodes, 2);
});

Deno.test("bad reports are ignored: no output, state untouched", async () => {
  const logs: string[] = [];
  const op = new OperatorSandbox(
    await loadOperator(engine, component),
    new OperatorState(1 << 20),
    "{}",
    (_level, message) => logs.push(message),
  );
  const good = { node_id: "a", phase: { real: 1, imag: 0 }, coherence: 1, weight: 1, tau_ms: 5 };
  feed(op, good, 0);
  const bad: unknown[] = [
    "not json",
    "[1,2]",
    { ...good, node_id: "" },
    { ...good, node_id: 7 },
    { ...good, node_id: "x".repeat(257) },
    { ...good, phase: [1, 0] },
    { ...good, phase: { real: "1", imag: 0 } },
    { ...good, coherence: null },
    { ...good, weight: -1 },
    { ...good, tau_ms: -1 },
    '{"node_id":"a","phase":{"real":1e999,"imag":0},"coherence":1,"weight":1,"tau_ms":5}',
  ];
  for (const b of bad) {
    const r = op.handle(pulse(b, 1), LIMITS);
    assert.equal(r.outputs.length, 0, JSON.stringify(b));
    assert.equal(r.changes.size, 0);
  }
  assert.equal(logs.filter((l) => l.includes("ignored")).length, bad.length);
  assert.equal(feed(op, { ...good, node_id: "b" }, 2).live_nodes, 2);
});

Deno.test("a bad configuration is refused at init", async () => {
  for (
    const [config, why] of [
      [{ emergence_threshold: "high" }, /emergence_threshold must be a finite number/],
      [{ max_nodes: 0 }, /max_nodes must be an integer/],
      [{ max_nodes: 1.5 }, /max_nodes must be an integer/],
      [[], /config must be a JSON object/],
    ] as const
  ) {
    await assert.rejects(mesh(config), (e: unknown) => {
      assert.ok(e instanceof ComponentRejectedError, String(e));
      assert.match(e.message, why);
      return true;
    });
  }
});
