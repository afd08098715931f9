/**
 * Outputs atomic with state, end to end: a node child process runs a counting operator
 * (state `sum`, one output `{"sum":N}` per input "1") whose outputs a retention rule
 * stores; a raw WebSocket client streams inputs and the node is SIGKILLed mid-stream,
 * then restarted on the same data directory. After every restart the stored outputs must
 * be exactly 1..K in order and the operator's state must say K: an output stored without
 * its state change would repeat a sum after the restart, a state change without its output
 * would skip one.
 */
import assert from "node:assert/strict";
import { testOperatorComponent } from "../operators/build/mod.ts";
import { NodeProcess } from "./store_node_process.ts";
import { startNode } from "../mod.ts";
import { call, client, delivered, install, publish } from "./support/operators.ts";

const counter = await testOperatorComponent("counter");
const CYCLES = 3;
const INPUTS = 3000;

async function agreement(url: string): Promise<{ stored: number; state: number }> {
  const snap = (await call(url, "GET", "/v1/operators/sum/state")).body;
  const entry = snap.entries.find((e: { key: string }) => e.key === "sum");
  const state = entry ? Number(atob(entry.value)) : 0;
  const res = await fetch(`${url}/v1/realities/ops/history?pattern=sums.%3E&limit=1000000`);
  assert.equal(res.status, 200);
  const lines = (await res.text()).split("\n").filter((l) => l.length > 0);
  const sums = lines.map((l) => JSON.parse(atob(JSON.parse(l).payload)).sum as number);
  // Exactly 1..K: no repeated sum (an output without its state) and no gap (state without
  // its output).
  for (let i = 0; i < sums.length; i++) {
    if (sums[i] !== i + 1) {
      assert.fail(`stored output ${i} is ${sums[i]}, expected ${i + 1} (state ${state})`);
    }
  }
  assert.equal(state, sums.length, `state ${state} against ${sums.length} stored outputs`);
  return { stored: sums.length, state };
}

Deno.test({
  name: "crash: an operator's stored outputs and its state agree after SIGKILL mid-stream",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "arqon-opcrash-" });
    const seen: number[] = [];
    try {
      for (let cycle = 0; cycle <= CYCLES; cycle++) {
        const node = await NodeProcess.start(dataDir, []);
        try {
          if (cycle === 0) {
            const made = await call(node.url, "POST", "/v1/realities", {
              name: "ops",
              retention: [{ pattern: "sums.>", maxPulses: 1_000_000 }],
            });
            assert.equal(made.status, 201, JSON.stringify(made.body));
            const up = await install(node.url, "sum", {
              reality: "ops",
              inputs: ["nums.>"],
            }, counter);
            assert.equal(up.status, 201, JSON.stringify(up.body));
          } else {
            const got = await call(node.url, "GET", "/v1/operators/sum");
            assert.equal(got.body.status, "running");
          }
          const before = await agreement(node.url);
          seen.push(before.stored);
          if (cycle === CYCLES) break;
          const s = await client(node.wsUrl, "sums.>", "ops");
          for (let i = 0; i < INPUTS; i++) publish(s, "nums.in", "1", { realityId: "ops" });
          // Mid-stream: some outputs are out, most inputs are still being handled.
          const cut = 100 + Math.floor(Math.random() * 800);
          await s.until(() => delivered(s, "sums.total").length >= cut, "outputs", 20_000);
          node.kill("SIGKILL");
          await node.exited();
        } finally {
          node.kill("SIGKILL");
          await node.exited();
        }
      }
      // Work happened in every cycle, and no restart lost what the one before stored.
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], `${seen}`);
      console.log(`stored outputs after each restart: ${seen.join(", ")}`);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

Deno.test("a failed commit (full store) loses outputs and state together; the operator goes on from the store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-opfull-" });
  const node = await startNode({
    port: 0,
    dataDir: dir,
    log: "quiet",
    maxStoreBytes: 256 * 1024,
    operatorMaxFailures: 100,
  });
  try {
    node.store.createReality("full", { retention: [{ pattern: ">" }] });
    assert.equal(
      (await install(node.url, "sum", { reality: "full", inputs: ["nums.>"] }, counter)).status,
      201,
    );
    const s = await client(node.wsUrl, "sums.>", "full");
    const sums = () => delivered(s, "sums.total").map((p) => JSON.parse(atob(p.payload)).sum);
    for (let i = 0; i < 3; i++) publish(s, "nums.in", "1", { realityId: "full" });
    await s.until(() => sums().length === 3, "3 sums");
    // Fill the store until durable publishes fail.
    const payload = new Uint8Array(2048);
    let status = 0;
    for (let i = 0; i < 1000 && status !== 507; i++) {
      const res = await fetch(`${node.url}/v1/realities/full/topics/fill.data?ack=durable`, {
        method: "POST",
        body: payload,
      });
      status = res.status;
      await res.body?.cancel();
    }
    assert.equal(status, 507);
    // Inputs one at a time until a commit (outputs and state) no longer fits; each output is
    // routed live before its commit.
    let failures = 0;
    for (let i = 0; i < 500 && failures === 0; i++) {
      const n = sums().length;
      publish(s, "nums.in", "1", { realityId: "full" });
      await s.until(() => sums().length === n + 1, "an output");
      await node.store.flush().catch(() => {});
      const got = (await call(node.url, "GET", "/v1/operators/sum")).body;
      failures = got.failures_by_kind.commit ?? 0;
    }
    assert.equal(failures, 1, "a commit failed");
    const k = sums().length;
    assert.equal(sums()[k - 1], k);
    // Space again: the operator continues from the stored state (k - 1), not from its lost k.
    node.store.updateReality("full", { retention: [{ pattern: ">", maxPulses: 5 }] });
    const stored = (await call(node.url, "GET", "/v1/operators/sum/state")).body;
    assert.equal(atob(stored.entries[0].value), String(k - 1));
    publish(s, "nums.in", "1", { realityId: "full" });
    await s.until(() => sums().length === k + 1, "sum after the failure");
    assert.equal(sums()[k], k);
    const snap = (await call(node.url, "GET", "/v1/operators/sum/state")).body;
    assert.equal(atob(snap.entries[0].value), String(k));
    assert.equal((await call(node.url, "GET", "/v1/operators/sum")).body.status, "running");
    s.ws.close();
  } finally {
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
