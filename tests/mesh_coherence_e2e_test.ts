/**
 * The shipped `mesh-coherence` operator on a real node: built from its AssemblyScript source,
 * installed over HTTP (multipart), fed phase reports by a raw WebSocket client (JSON
 * subprotocol), its outputs checked against the TypeScript reference computed over the
 * logical times the node stamped on the inputs, and a `spectral_filter` subscription that
 * sees only the emerged outputs.
 */
import assert from "node:assert/strict";
import {
  MESH_COHERENCE_CARD,
  meshCoherenceComponent,
  type MeshGlobal,
  MeshReference,
  type MeshReport,
} from "../operators/builtin/mesh-coherence/mod.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { sleep, withNode } from "./support/node.ts";

const component = await meshCoherenceComponent();

type Pulse = {
  topic: string;
  payload: string;
  producerId: string;
  timestamp: { wallMs: string };
  spectral?: { coherence?: number; criticality?: number };
};

async function install(url: string, name: string, manifest: unknown) {
  const form = new FormData();
  form.append("component", new Blob([component]), "mesh-coherence.wasm");
  form.append("manifest", JSON.stringify(manifest));
  const res = await fetch(`${url}/v1/operators/${name}`, { method: "PUT", body: form });
  return { status: res.status, body: await res.json() };
}

async function jsonClient(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, "arqon.v1.json");
  s.send(JSON.stringify({ hello: { clientName: name, protocolVersion: 1 } }));
  await s.until(() => s.json.some((f) => f.welcome), "welcome");
  return s;
}

function deliveries(s: RawSocket, id: number): Pulse[] {
  return s.json
    .filter((f) => (f.deliver as { subscriptionId?: number } | undefined)?.subscriptionId === id)
    .map((f) => (f.deliver as { pulse: Pulse }).pulse);
}

const payloadOf = <T>(p: Pulse): T => JSON.parse(atob(p.payload)) as T;

Deno.test("mesh-coherence on a node: reference outputs, and a filter that sees only emergence", async () => {
  await withNode(async (node) => {
    const up = await install(node.url, "mesh", {
      reality: "default",
      inputs: ["mesh.node.>"],
      config: { emergence_threshold: 0.75 },
      card: MESH_COHERENCE_CARD,
    });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const watch = await jsonClient(node.wsUrl, "watch");
    const subscribe = (id: number, pattern: string, spectralFilter?: string) =>
      watch.send(JSON.stringify({
        subscribe: { subscriptionId: id, pattern, correlationId: String(id), spectralFilter },
      }));
    subscribe(1, "mesh.coherence.global", "coherence >= 0.75");
    subscribe(2, "mesh.coherence.global");
    subscribe(3, "mesh.node.>"); // the inputs as stamped: their logical times
    await watch.until(() => watch.json.filter((f) => f.subscribed).length === 3, "subscribed");

    // Five nodes whose coherence drifts up then down, so the mesh crosses the threshold both
    // ways; short tau_ms and pauses, so reports also expire by the stamped logical time.
    const feeder = await jsonClient(node.wsUrl, "sensors");
    const N = 60;
    const reports: MeshReport[] = [];
    for (let i = 0; i < N; i++) {
      const k = i % 5;
      const level = i < N / 2 ? i / (N / 2) : (N - i) / (N / 2);
      const report: MeshReport = {
        node_id: `pi-${k}`,
        phase: { real: Math.cos(i + k), imag: Math.sin(i * 0.7 + k) },
        coherence: Math.min(1, Math.max(0, level * 1.1 - 0.05 * k + 0.03 * Math.sin(i))),
        weight: 1 + k,
        tau_ms: k === 4 ? 3 : 40 + 10 * k,
      };
      reports.push(report);
      feeder.send(JSON.stringify({
        publish: { pulse: { topic: `mesh.node.pi-${k}`, payload: btoa(JSON.stringify(report)) } },
      }));
      if (i % 7 === 6) await sleep(8);
    }
    await watch.until(() => deliveries(watch, 2).length === N, `${N} outputs`, 15_000);
    const inputs = deliveries(watch, 3);
    assert.equal(inputs.length, N);

    // The reference over the same reports at the logical times the node stamped.
    const ref = new MeshReference(0.75);
    const want = inputs.map((p) =>
      ref.handle(payloadOf<MeshReport>(p), Number(p.timestamp.wallMs))
    );
    const got = deliveries(watch, 2);
    for (let i = 0; i < N; i++) {
      const g = payloadOf<MeshGlobal>(got[i]);
      const w = want[i];
      for (
        const [a, b] of [
          [g.global_phase.real, w.global_phase.real],
          [g.global_phase.imag, w.global_phase.imag],
          [g.global_coherence, w.global_coherence],
        ]
      ) assert.ok(Math.abs(a - b) <= 1e-9, `output ${i}: ${a} vs ${b}`);
      assert.equal(g.live_nodes, w.live_nodes, `output ${i} live_nodes`);
      assert.equal(g.emerged, w.emerged, `output ${i} emerged`);
      assert.equal(got[i].producerId, "operator:mesh");
      assert.equal(got[i].spectral?.coherence ?? 0, g.global_coherence);
    }
    const emerged = got.filter((p) => payloadOf<MeshGlobal>(p).emerged);
    assert.ok(emerged.length > 0 && emerged.length < N, `${emerged.length} emerged of ${N}`);
    assert.ok(want.some((w) => w.live_nodes < 5), "some reports expired by logical time");

    // The filtered subscription saw exactly the emerged outputs, in order.
    await sleep(50);
    const filtered = deliveries(watch, 1);
    assert.deepEqual(filtered.map((p) => p.payload), emerged.map((p) => p.payload));
    for (const p of filtered) assert.ok(p.spectral!.coherence! >= 0.75);

    const info = await (await fetch(`${node.url}/v1/operators/mesh`)).json();
    assert.equal(info.counters.pulsesIn, N);
    assert.equal(info.counters.pulsesOut, N);
    assert.equal(info.counters.failures, 0);
    await feeder.close();
    await watch.close();
  });
});

Deno.test("mesh-coherence refuses a bad configuration at install", async () => {
  await withNode(async (node) => {
    const res = await install(node.url, "mesh", {
      inputs: ["mesh.node.>"],
      config: { emergence_threshold: "high" },
    });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /emergence_threshold must be a finite number/);
  });
});
