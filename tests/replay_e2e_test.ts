/**
 * Bit-exact replay end to end (issue #14, docs/time.md "Replay"): a real node on a data
 * directory, three raw WebSocket clients (JSON subprotocol, not our SDK) feeding a reality
 * at once through `mesh-coherence`, `harmonics` and a stateful operator (`counter`), with
 * control-parameter changes interleaved and a node restart in the middle; then
 * `POST /v1/realities/{r}/verify` over fetch replays the input journal and the SHA-256
 * digests of both output logs match. An operator replaced mid-log replays with the version
 * kept by digest; once that version is lost, the difference is reported with the first
 * differing output.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
import { testOperatorComponent } from "../operators/build/mod.ts";
import type { ArqonNode } from "../runtime/node/mod.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { sleep } from "./support/node.ts";
import { call, install } from "./support/operators.ts";

const counter = await testOperatorComponent("counter");
const echo = await testOperatorComponent("control_echo");

const PROGRAM = `
.topic vec.out
load r0, 0, 4
sum r1, r0
scale r2, r0, 0.5
store r1, 0
store r2, 1
emit vec.out
`;

async function feeder(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, "arqon.v1.json");
  s.send(JSON.stringify({ hello: { clientName: name, protocolVersion: 1 } }));
  await s.until(() => s.json.some((f) => f.welcome), "welcome");
  return s;
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const text = (t: string) => btoa(t);
function send(s: RawSocket, reality: string, topic: string, payload: string): void {
  s.send(JSON.stringify({ publish: { pulse: { topic, realityId: reality, payload } } }));
}
function floats(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

async function start(dataDir: string): Promise<ArqonNode> {
  return await startNode({ port: 0, log: "quiet", shutdownGraceMs: 500, dataDir });
}

async function handled(node: ArqonNode, name: string, n: number): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    const got = (await call(node.url, "GET", `/v1/operators/${name}`)).body;
    if (got.counters.pulsesIn >= n) return;
    await sleep(10);
  }
  throw new Error(`${name} did not handle ${n} inputs`);
}

/** One phase: three clients at once, control changes interleaved. */
async function feed(node: ArqonNode, phase: number): Promise<void> {
  const [a, b, c] = await Promise.all(
    ["sensors", "vectors", "numbers"].map((n) => feeder(node.wsUrl, `${n}-${phase}`)),
  );
  const sends: Promise<void>[] = [];
  sends.push((async () => {
    for (let i = 0; i < 40; i++) {
      const k = i % 4;
      send(
        a,
        "lab",
        `mesh.node.n${k}`,
        text(JSON.stringify({
          node_id: `n${k}`,
          phase: { real: Math.cos(i + phase), imag: Math.sin(i * 0.3) },
          coherence: (i % 10) / 10,
          weight: 1 + k,
          tau_ms: 1000,
        })),
      );
      if (i % 10 === 9) await sleep(2);
    }
  })());
  sends.push((async () => {
    for (let i = 0; i < 40; i++) {
      send(b, "lab", "vec.in", b64(floats([i, phase, -i / 2, 0.25])));
      if (i % 10 === 9) await sleep(2);
    }
  })());
  sends.push((async () => {
    for (let i = 0; i < 40; i++) {
      send(c, "lab", "nums.in", text(String(i + 1)));
      if (i % 10 === 4) {
        send(
          c,
          "lab",
          "sys.control.set",
          text(JSON.stringify({ params: { k_c: phase + i / 100 } })),
        );
      }
      if (i % 10 === 9) await sleep(2);
    }
  })());
  await Promise.all(sends);
  await handled(node, "mesh", 40); // counters restart with the node
  await handled(node, "layer", 40); // counters restart with the node
  await handled(node, "sum", 40); // counters restart with the node
  await handled(node, "kc", 40); // counters restart with the node
  await Promise.all([a, b, c].map((s) => s.close()));
}

Deno.test("verify: a reality fed by concurrent clients, across a restart and control changes, replays bit for bit", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-replay-" });
  try {
    let node = await start(dataDir);
    assert.equal(
      (await call(node.url, "PUT", "/v1/realities/lab", { retention: [{ pattern: ">" }] })).status,
      201,
    );
    const put = async (name: string, body: unknown) => {
      const r = await call(node.url, "PUT", `/v1/operators/${name}`, body);
      assert.ok(r.status === 201, `${name}: ${JSON.stringify(r.body)}`);
    };
    await put("mesh", { builtin: "mesh-coherence", reality: "lab", inputs: ["mesh.node.>"] });
    await put("layer", {
      builtin: "harmonics",
      reality: "lab",
      inputs: ["vec.in"],
      config: { source: PROGRAM },
    });
    assert.equal(
      (await install(node.url, "sum", { reality: "lab", inputs: ["nums.>"] }, counter)).status,
      201,
    );
    assert.equal(
      (await install(node.url, "kc", { reality: "lab", inputs: ["nums.>"] }, echo)).status,
      201,
    );
    await feed(node, 1);
    await node.shutdown();
    node = await start(dataDir);
    await feed(node, 2);
    await node.store.flush();

    const res = await fetch(`${node.url}/v1/realities/lab/verify`, { method: "POST" });
    const answer = await res.json();
    assert.equal(res.status, 200, JSON.stringify(answer));
    assert.equal(answer.first_difference, null, JSON.stringify(answer.first_difference));
    assert.equal(answer.ok, true);
    assert.equal(answer.digest, answer.replay_digest);
    assert.match(answer.digest, /^[0-9a-f]{64}$/);
    // 2 phases x (3 x 40 inputs + 4 control changes).
    assert.equal(answer.inputs, 2 * (120 + 4));
    // mesh: one report per input; layer: one vector per input; sum and kc: one each per number.
    assert.equal(answer.outputs, 2 * 160);
    assert.equal(answer.replay_outputs, answer.outputs);
    assert.deepEqual(answer.failures, []);
    // The task says the same, from another process.
    const task = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "replay:verify", "--reality", "lab", "--url", node.url],
      cwd: new URL("../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(task.stdout);
    assert.equal(task.code, 0, said + new TextDecoder().decode(task.stderr));
    assert.match(
      said,
      new RegExp(`identical \\(248 inputs, 320 outputs, sha256 ${answer.digest}\\)`),
    );
    // The scratch realities are gone.
    const listed = (await call(node.url, "GET", "/v1/realities")).body;
    assert.deepEqual(
      (listed.realities as { name: string }[]).map((r) => r.name).filter((n) =>
        n.includes("verify")
      ),
      [],
    );
    await node.shutdown();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("verify: an operator replaced mid-log replays with the version kept by digest; once lost, the difference is reported", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-replay-" });
  let node = await start(dataDir);
  try {
    await call(node.url, "PUT", "/v1/realities/lab2", { retention: [{ pattern: ">" }] });
    const manifest = { reality: "lab2", inputs: ["nums.>"] };
    assert.equal((await install(node.url, "op", manifest, counter)).status, 201);
    const s = await feeder(node.wsUrl, "numbers");
    for (let i = 1; i <= 20; i++) send(s, "lab2", "nums.in", text(String(i)));
    await handled(node, "op", 20);
    // Replaced by another component under the same name mid-log.
    assert.equal((await install(node.url, "op", manifest, echo)).status, 200);
    for (let i = 21; i <= 40; i++) send(s, "lab2", "nums.in", text(String(i)));
    await handled(node, "op", 40);
    await s.close();
    await node.store.flush();
    // The node kept the first version: each input replays through the version that had it.
    const kept = (await call(node.url, "POST", "/v1/realities/lab2/verify")).body;
    assert.equal(kept.ok, true, JSON.stringify(kept.first_difference));
    assert.equal(kept.outputs, 40);
    assert.equal(kept.digest, kept.replay_digest);
    // Versions are kept in memory: after a restart the first one is lost, and the replay
    // (all through the version installed now) is reported as different, not accepted.
    await node.shutdown();
    node = await start(dataDir);
    const lost = (await call(node.url, "POST", "/v1/realities/lab2/verify")).body;
    assert.equal(lost.ok, false);
    assert.notEqual(lost.digest, lost.replay_digest);
    const first = lost.first_difference;
    assert.equal(first.index, 0);
    assert.equal(first.producer, "operator:op");
    assert.equal(first.a.topic, "sums.total");
    assert.equal(first.b.topic, "echo.k_c");
  } finally {
    await node.shutdown();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("snapshots: a second verify starts from the last snapshot, with the stateful operator's state", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-replay-" });
  const node = await startNode({
    port: 0,
    log: "quiet",
    shutdownGraceMs: 500,
    dataDir,
    snapshotEvery: 100,
  });
  try {
    await call(node.url, "PUT", "/v1/realities/snap", { retention: [{ pattern: ">" }] });
    assert.equal(
      (await install(node.url, "total", { reality: "snap", inputs: ["nums.>"] }, counter)).status,
      201,
    );
    const s = await feeder(node.wsUrl, "numbers");
    for (let i = 1; i <= 300; i++) send(s, "snap", "nums.in", text(String(i)));
    await handled(node, "total", 300);
    await node.store.flush();
    const first = (await call(node.url, "POST", "/v1/realities/snap/verify")).body;
    assert.equal(first.ok, true, JSON.stringify(first.first_difference));
    assert.equal(first.from_snapshot, null);
    assert.equal(first.inputs, 300);
    // 50 more: the next verify replays only those, over the state the snapshot kept (the
    // running sums go on from 45150, so a lost state would differ at once).
    for (let i = 301; i <= 350; i++) send(s, "snap", "nums.in", text(String(i)));
    await handled(node, "total", 350);
    await node.store.flush();
    const second = (await call(node.url, "POST", "/v1/realities/snap/verify")).body;
    assert.equal(second.ok, true, JSON.stringify(second.first_difference));
    assert.ok(second.from_snapshot > 0);
    assert.equal(second.inputs, 50);
    assert.equal(second.replay_outputs, 50);
    // ?full ignores the snapshots.
    const full = (await call(node.url, "POST", "/v1/realities/snap/verify?full")).body;
    assert.equal(full.ok, true);
    assert.equal(full.from_snapshot, null);
    assert.equal(full.inputs, 350);
    assert.equal(full.digest, full.replay_digest);
    await s.close();
  } finally {
    await node.shutdown();
    await Deno.remove(dataDir, { recursive: true });
  }
});
