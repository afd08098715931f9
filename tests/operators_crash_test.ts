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
