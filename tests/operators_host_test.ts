/**
 * The operator host end to end over a real node: raw WebSocket clients (JSON subprotocol)
 * and fetch. Built-in installs, stop/resume/delete within one pulse, state snapshot and
 * restore with its bounds, parallel instances, metrics.
 */
import assert from "node:assert/strict";
import { buildOperatorCached, OPERATOR_BUILD_DIR, REPO_ROOT } from "../operators/build/mod.ts";
import { testOperatorComponent } from "../operators/build/mod.ts";
import { parseConfig } from "../mod.ts";
import { metric, sleep, withNode } from "./support/node.ts";
import {
  call,
  client,
  delivered,
  install,
  payloadJson,
  publish,
  waitStatus,
} from "./support/operators.ts";

const counter = await testOperatorComponent("counter");
// The shipped echo operator, as `deno task build` builds it.
await buildOperatorCached(
  `${REPO_ROOT}operators/builtin/echo/assembly/operator.ts`,
  `${OPERATOR_BUILD_DIR}builtin/echo.wasm`,
);

const MANIFEST = { reality: "default", inputs: ["nums.>"] };
const sums = (s: Parameters<typeof delivered>[0]) =>
  delivered(s, "sums.total").map((p) => payloadJson(p).sum as number);
const b64 = (text: string) => btoa(text);

async function auditActions(url: string): Promise<string[]> {
  const audit = (await call(url, "GET", "/v1/audit?limit=200")).body;
  return (audit.entries ?? audit).map((e: { action: string }) => e.action);
}

Deno.test("a built-in installs from JSON with its card; unknown built-ins are 404", async () => {
  await withNode(async (node) => {
    const up = await call(node.url, "PUT", "/v1/operators/bridge", {
      builtin: "echo",
      inputs: ["in.>"],
      config: { to: "out.echo" },
    });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal(up.body.builtin, "echo");
    assert.equal(up.body.status, "running");
    const s = await client(node.wsUrl, "out.>");
    for (let i = 0; i < 10; i++) {
      publish(s, `in.k${i}`, `hello ${i}`, { headers: { "x-n": String(i) } });
    }
    await s.until(() => delivered(s, "out.echo").length === 10, "10 echoes");
    const out = delivered(s, "out.echo");
    assert.deepEqual(out.map((p) => atob(p.payload)), [...Array(10)].map((_, i) => `hello ${i}`));
    assert.equal((out[3].headers as Record<string, string>)["x-n"], "3");
    assert.equal(out[0].producerId, "operator:bridge");
    // Replacing from JSON is 200; a bad config is refused by init.
    const again = await call(node.url, "PUT", "/v1/operators/bridge", {
      builtin: "echo",
      inputs: ["in.>"],
      config: { to: "out.two" },
    });
    assert.equal(again.status, 200);
    const noTo = await call(node.url, "PUT", "/v1/operators/x", { builtin: "echo", inputs: ["a"] });
    assert.equal(noTo.status, 400);
    assert.match(noTo.body.error.message, /config.to/);
    const unknown = await call(node.url, "PUT", "/v1/operators/y", {
      builtin: "nope",
      inputs: ["a"],
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "NOT_FOUND");
    assert.match(unknown.body.error.message, /built-ins: .*echo/);
    const traversal = await call(node.url, "PUT", "/v1/operators/y", {
      builtin: "../echo",
      inputs: ["a"],
    });
    assert.equal(traversal.status, 404);
    const notJson = await call(node.url, "PUT", "/v1/operators/y", "{nope");
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error.code, "INVALID_ARGUMENT");
    assert.equal((await call(node.url, "GET", "/v1/operators/y")).status, 404);
    s.ws.close();
  });
});

Deno.test("stop holds an operator within one pulse, resume goes on with its state; audited", async () => {
  await withNode(async (node) => {
    assert.equal((await install(node.url, "sum", MANIFEST, counter)).status, 201);
    const s = await client(node.wsUrl, ">");
    for (let i = 0; i < 3; i++) publish(s, "nums.in", "1");
    await s.until(() => sums(s).length === 3, "3 sums");
    const stopped = await call(node.url, "POST", "/v1/operators/sum/stop");
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.status, "stopped");
    assert.equal((await call(node.url, "GET", "/v1/operators/sum")).body.status, "stopped");
    // Published while stopped: not handled; plain pub/sub flows meanwhile.
    for (let i = 0; i < 5; i++) publish(s, "nums.in", "1000");
    publish(s, "chat.msg", "hi");
    await s.until(() => delivered(s, "chat.msg").length === 1, "plain pub/sub");
    await sleep(300);
    assert.equal(sums(s).length, 3);
    assert.equal((await call(node.url, "GET", "/v1/operators/sum")).body.counters.pulsesIn, 3);
    // Stopping twice is harmless; resume starts it over its committed state.
    assert.equal((await call(node.url, "POST", "/v1/operators/sum/stop")).status, 200);
    const resumed = await call(node.url, "POST", "/v1/operators/sum/resume");
    assert.equal(resumed.status, 200);
    assert.equal(resumed.body.status, "running");
    assert.equal((await call(node.url, "POST", "/v1/operators/sum/resume")).status, 400);
    publish(s, "nums.in", "1");
    await s.until(() => sums(s).length === 4, "sum after resume");
    assert.equal(sums(s)[3], 4);
    assert.equal((await call(node.url, "POST", "/v1/operators/none/stop")).status, 404);
    const actions = await auditActions(node.url);
    for (const a of ["operator.stop", "operator.resume"]) assert.ok(actions.includes(a), a);
    s.ws.close();
  });
});

Deno.test("pulses published after DELETE or stop produce no outputs, mid-stream", async () => {
  await withNode(async (node) => {
    assert.equal((await install(node.url, "sum", MANIFEST, counter)).status, 201);
    const s = await client(node.wsUrl, "sums.>");
    // Enough inputs that the stop lands mid-stream: batches take up to 1,024 queued inputs,
    // so 5,000 were all handled before the stop on a fast run.
    for (let i = 0; i < 20_000; i++) publish(s, "nums.in", "1");
    await s.until(() => sums(s).length >= 20, "first outputs");
    assert.equal((await call(node.url, "POST", "/v1/operators/sum/stop")).status, 200);
    const at = (await call(node.url, "GET", "/v1/operators/sum")).body.counters;
    await sleep(300);
    const later = (await call(node.url, "GET", "/v1/operators/sum")).body.counters;
    // Nothing handled after the stop answered (within one pulse: at most the one in flight).
    assert.equal(later.pulsesIn, at.pulsesIn);
    assert.equal(later.pulsesOut, at.pulsesOut);
    assert.ok(at.pulsesIn < 20_000, `stopped mid-stream (${at.pulsesIn} handled)`);
    // Outputs delivered are exactly the ones counted: 1..N, none lost or repeated.
    await s.until(() => sums(s).length === at.pulsesOut, "outputs so far");
    assert.deepEqual(sums(s), [...Array(at.pulsesOut)].map((_, i) => i + 1));
    // Resume: the inputs it had taken are handled first, then DELETE mid-stream.
    assert.equal((await call(node.url, "POST", "/v1/operators/sum/resume")).status, 200);
    // When the operator had caught up with routing at the stop (a slow publisher), nothing
    // was left over and what arrived while it was stopped had no subscriber: new inputs
    // make sure it runs again.
    for (let i = 0; i < 10; i++) publish(s, "nums.in", "1");
    await s.until(() => sums(s).length > at.pulsesOut, "outputs after resume");
    assert.equal((await call(node.url, "DELETE", "/v1/operators/sum")).status, 200);
    for (let i = 0; i < 50; i++) publish(s, "nums.in", "1000000");
    await sleep(400);
    assert.ok(sums(s).every((n) => n < 1_000_000), "no output of a pulse published after DELETE");
    assert.deepEqual(sums(s), [...Array(sums(s).length)].map((_, i) => i + 1));
    s.ws.close();
  });
});

Deno.test("state snapshot and restore: atomic, bounded, typed errors, seen from the next pulse", async () => {
  await withNode(async (node) => {
    assert.equal((await install(node.url, "sum", MANIFEST, counter)).status, 201);
    const s = await client(node.wsUrl, "sums.>");
    publish(s, "nums.in", "2");
    publish(s, "nums.in", "3");
    await s.until(() => sums(s).length === 2, "2 sums");
    const snap = await call(node.url, "GET", "/v1/operators/sum/state");
    assert.equal(snap.status, 200);
    assert.equal(snap.body.version, 1);
    assert.equal(snap.body.operator, "sum");
    assert.deepEqual(snap.body.entries, [{ key: "sum", value: b64("5") }]);
    assert.equal(snap.body.bytes, 4);
    const put = (body: unknown) => call(node.url, "PUT", "/v1/operators/sum/state", body);
    const restored = await put({ version: 1, entries: [{ key: "sum", value: b64("100") }] });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    publish(s, "nums.in", "1");
    await s.until(() => sums(s).length === 3, "sum after restore");
    assert.equal(sums(s)[2], 101);
    // Refused restores leave the state as it was.
    const bad: [unknown, number, string, RegExp][] = [
      [{ version: 2, entries: [] }, 400, "INVALID_ARGUMENT", /version must be 1/],
      [{ version: 1 }, 400, "INVALID_ARGUMENT", /entries must be an array/],
      [{ version: 1, entries: [{ key: "a", value: "@@" }] }, 400, "INVALID_ARGUMENT", /base64/],
      [{ version: 1, entries: [{ key: 1, value: "" }] }, 400, "INVALID_ARGUMENT", /key/],
      [
        { version: 1, entries: [{ key: "a", value: "" }, { key: "a", value: "" }] },
        400,
        "INVALID_ARGUMENT",
        /repeated/,
      ],
      [
        { version: 1, entries: [{ key: "big", value: b64("x".repeat(200)) }] },
        413,
        "FRAME_TOO_LARGE",
        /operator-state-bytes/,
      ],
      ["{not json", 400, "INVALID_ARGUMENT", /not valid JSON/],
    ];
    for (const [body, status, code, message] of bad) {
      const r = await put(body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(r.body.error.code, code);
      assert.match(r.body.error.message, message);
    }
    publish(s, "nums.in", "1");
    await s.until(() => sums(s).length === 4, "sum after refused restores");
    assert.equal(sums(s)[3], 102);
    // An empty snapshot clears the state.
    assert.equal((await put({ version: 1, entries: [] })).status, 200);
    publish(s, "nums.in", "7");
    await s.until(() => sums(s).length === 5, "sum after clearing");
    assert.equal(sums(s)[4], 7);
    assert.equal((await call(node.url, "GET", "/v1/operators/none/state")).status, 404);
    assert.equal((await call(node.url, "PUT", "/v1/operators/none/state", {})).status, 404);
    assert.ok((await auditActions(node.url)).includes("operator.state.restore"));
    s.ws.close();
  }, { operatorStateBytes: 64 });
});

Deno.test("instances share the inputs as one queue group; state is read-only to them; bounded", async () => {
  await withNode(async (node) => {
    const many = await call(node.url, "PUT", "/v1/operators/fan", {
      builtin: "echo",
      inputs: ["in.>"],
      instances: 3,
      config: { to: "out.x" },
    });
    assert.equal(many.status, 201, JSON.stringify(many.body));
    assert.equal(many.body.instances, 3);
    const s = await client(node.wsUrl, "out.>");
    for (let i = 0; i < 90; i++) publish(s, "in.a", String(i));
    await s.until(() => delivered(s, "out.x").length === 90, "90 outputs");
    // Each input handled once across the instances.
    const got = delivered(s, "out.x").map((p) => Number(atob(p.payload))).sort((a, b) => a - b);
    assert.deepEqual(got, [...Array(90)].map((_, i) => i));
    assert.equal((await call(node.url, "GET", "/v1/operators/fan")).body.counters.pulsesIn, 90);
    // A stateful operator as 2 instances reads the (restored) state but cannot write it.
    const two = await install(node.url, "sum", { ...MANIFEST, instances: 2 }, counter);
    assert.equal(two.status, 201);
    await call(node.url, "PUT", "/v1/operators/sum/state", {
      version: 1,
      entries: [{ key: "sum", value: b64("100") }],
    });
    const t = await client(node.wsUrl, "sums.>");
    for (const n of [1, 2, 3, 4]) publish(t, "nums.in", String(n));
    await t.until(() => sums(t).length === 4, "4 sums");
    assert.deepEqual(sums(t).sort((a, b) => a - b), [101, 102, 103, 104]);
    // Bounded by --operator-max-instances.
    const over = await install(node.url, "big", { ...MANIFEST, instances: 5 }, counter);
    assert.equal(over.status, 400);
    assert.match(over.body.error.message, /operator-max-instances \(4\)/);
    const zero = await install(node.url, "big", { ...MANIFEST, instances: 0 }, counter);
    assert.equal(zero.status, 400);
    s.ws.close();
    t.ws.close();
  }, { operatorMaxInstances: 4 });
});

Deno.test("operator metrics in /metrics: pulses, failures by kind, fuel, status, handle latency", async () => {
  await withNode(async (node) => {
    assert.equal((await install(node.url, "sum", MANIFEST, counter)).status, 201);
    const s = await client(node.wsUrl, "sums.>");
    for (const t of ["1", "2", "trap", "3"]) publish(s, "nums.in", t);
    await s.until(() => sums(s).length === 3, "3 sums");
    await waitStatus(
      node.url,
      "sum",
      (b) => (b.counters as { pulsesIn: number }).pulsesIn === 4,
      "4 in",
    );
    const op = 'operator="sum"';
    assert.equal(await metric(node, "arqon_operator_pulses_in_total", op), 4);
    assert.equal(await metric(node, "arqon_operator_pulses_out_total", op), 3);
    assert.equal(await metric(node, "arqon_operator_failures_total", 'kind="unreachable"'), 1);
    assert.ok(await metric(node, "arqon_operator_fuel_total", op) > 0);
    assert.equal(await metric(node, "arqon_operator_status", 'status="running"'), 1);
    assert.equal(await metric(node, "arqon_operator_status", 'status="stopped"'), 0);
    assert.equal(await metric(node, "arqon_operator_handle_seconds_count", op), 4);
    assert.equal(await metric(node, "arqon_operator_handle_seconds_bucket", 'le="+Inf"'), 4);
    await call(node.url, "POST", "/v1/operators/sum/stop");
    assert.equal(await metric(node, "arqon_operator_status", 'status="stopped"'), 1);
    const status = (await call(node.url, "GET", "/v1/operators/sum")).body;
    assert.equal(status.failures_by_kind.unreachable, 1);
    s.ws.close();
  });
});

Deno.test("--operator-max-instances parses as a flag and from the environment", () => {
  const max = (args: string[], env: Record<string, string> = {}) => {
    const parsed = parseConfig(args, (n) => env[n]);
    assert.ok(!parsed.help);
    return parsed.config.operatorMaxInstances;
  };
  assert.equal(max(["--operator-max-instances", "3"]), 3);
  assert.equal(max([], { ARQON_OPERATOR_MAX_INSTANCES: "5" }), 5);
  assert.equal(max([]), 8);
  assert.throws(() => max(["--operator-max-instances", "many"]));
});
