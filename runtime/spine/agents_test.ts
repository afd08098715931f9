import assert from "node:assert/strict";
import { BusError } from "../protocol/mod.ts";
import { NodeMetrics } from "../telemetry/mod.ts";
import { AgentDirectory } from "./agents.ts";
import { compileCard } from "./card.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const INT_OUT = compileCard({ capabilities: ["count"], output_schema: { type: "integer" } });

Deno.test("a client's card checks its publishes until its last session releases it", async () => {
  const metrics = new NodeMetrics();
  const dir = new AgentDirectory(metrics);
  const release1 = dir.registerClient("sensor", INT_OUT);
  const release2 = dir.registerClient("sensor", INT_OUT);
  dir.checkPublish({ topic: "t", payload: bytes("3") }, "sensor", "default");
  assert.throws(
    () => dir.checkPublish({ topic: "t", payload: bytes("3.5") }, "sensor", "default"),
    (e: unknown) =>
      e instanceof BusError && e.code === "SCHEMA_VIOLATION" && /keyword "type"/.test(e.message),
  );
  // Other producers are not checked.
  dir.checkPublish({ topic: "t", payload: bytes("not json") }, "other", "default");
  const [view] = dir.list("default");
  assert.equal(view.kind, "client");
  assert.equal(view.sessions, 2);
  assert.equal(view.violations.output, 1);
  assert.ok(view.last_activity_ms > 0);
  assert.match(
    await metrics.render(),
    /arqon_schema_violations_total\{reality="default",direction="output"\} 1/,
  );
  release1();
  release1(); // twice is once
  assert.equal(dir.list("default").length, 1);
  release2();
  assert.equal(dir.list("default").length, 0);
  dir.checkPublish({ topic: "t", payload: bytes("3.5") }, "sensor", "default");
});

Deno.test("one producer id cannot present two cards; operators' ids are reserved", () => {
  const dir = new AgentDirectory();
  dir.registerClient("a", INT_OUT);
  const other = compileCard({ capabilities: ["other"] });
  assert.throws(() => dir.registerClient("a", other), /connected with another card/);
  assert.throws(() => dir.registerClient("operator:x", other), /belong to operators/);
});

Deno.test("operators are listed in their reality with their status; inputs are admitted by schema", () => {
  const dir = new AgentDirectory();
  const card = compileCard(
    { capabilities: ["sum"], input_schema: { type: "integer" } },
    "operator",
  );
  let status = "running";
  dir.registerOperator("sum", "r1", card, () => status);
  dir.registerClient("c", compileCard({ capabilities: [], realities: ["r1", "r2"] }));
  assert.deepEqual(dir.list("r1").map((a) => [a.kind, a.name, a.status]), [
    ["operator", "sum", "running"],
    ["client", "c", "connected"],
  ]);
  assert.deepEqual(dir.list("r2").map((a) => a.name), ["c"]);
  assert.equal(dir.admitInput("operator:sum", { payload: bytes("1") }), true);
  assert.equal(dir.admitInput("operator:sum", { payload: bytes("x") }), false);
  assert.equal(dir.admitInput("operator:none", { payload: bytes("x") }), true);
  status = "quarantined";
  assert.equal(dir.list("r1")[0].status, "quarantined");
  assert.equal(dir.list("r1")[0].violations.input, 1);
  dir.unregisterOperator("sum");
  assert.deepEqual(dir.list("r1").map((a) => a.name), ["c"]);
});
