/**
 * What the SAM check costs a publish (issue 12 item 6): `AgentDirectory.checkPublish`, which
 * `Spine.publish` calls for every pulse, for a producer without a card (one Map lookup) and
 * for one whose card has an `output_schema` (decode, JSON.parse, ajv). Pin it:
 * `taskset -c 1 deno run -A bench/card_bench.ts`. Per-pulse node cost: bench/node_micro.ts.
 * @module
 */
import { AgentDirectory, compileCard } from "../runtime/spine/mod.ts";

const dir = new AgentDirectory();
const card = compileCard({
  capabilities: ["bench"],
  output_schema: {
    type: "object",
    properties: { data: { type: "string" }, n: { type: "integer" } },
    required: ["data"],
  },
});
const carded = new Array(1000).fill(0).map((_, i) => `agent-${i}`);
for (const p of carded) dir.registerClient(p, card);
const json = new TextEncoder().encode(JSON.stringify({ data: "x".repeat(1000), n: 1 }));
const small = new TextEncoder().encode('{"data":"x","n":1}');

function time(label: string, n: number, f: () => void): void {
  for (let i = 0; i < n / 10; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  const ns = (performance.now() - t0) * 1e6 / n;
  console.log(`${label.padEnd(58)} ${ns.toFixed(1).padStart(8)} ns/publish`);
}

const plain = { topic: "bench.t", payload: json };
time("no card (1,000 carded agents in the directory)", 20_000_000, () => {
  dir.checkPublish(plain, "plain-producer", "default");
});
time("card with output_schema, 18 B JSON payload", 1_000_000, () => {
  dir.checkPublish({ topic: "bench.t", payload: small }, "agent-7", "default");
});
time("card with output_schema, 1 KB JSON payload", 300_000, () => {
  dir.checkPublish(plain, "agent-7", "default");
});
