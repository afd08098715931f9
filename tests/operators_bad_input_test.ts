/**
 * Bad operators and manifests, end to end (issue 12, item 10): each is a 4xx at
 * publication or a counted and logged failure at run time, and never stops the node, plain
 * pub/sub or another operator. (A component of the wrong world, an `init` returning an
 * error and an invalid input pattern are in operators_e2e_test.ts.)
 */
import assert from "node:assert/strict";
import { testOperatorComponent } from "../operators/build/mod.ts";
import { withNode } from "./support/node.ts";
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
const fanout = await testOperatorComponent("fanout");
const initTrap = await testOperatorComponent("init_trap");

Deno.test("refused at publication: a trap inside init, bad manifests, junk components", async () => {
  await withNode(async (node) => {
    const cases: [unknown, Uint8Array, RegExp][] = [
      [{ inputs: ["a.>"] }, initTrap, /does not start.*unreachable/],
      [{ inputs: ["a.>", "b.>.c"] }, counter, /input pattern "b.>.c"/],
      [{ inputs: [] }, counter, /inputs must be a non-empty array/],
      [{ inputs: ["a"], reality: "Bad Reality" }, counter, /not a reality name/],
      [{ inputs: ["a"], limits: { fuel: -1 } }, counter, /limits.fuel/],
      [{ inputs: ["a"], queue_group: "no spaces" }, counter, /queue_group/],
      [{ inputs: ["a"], config: "text" }, counter, /config must be a JSON object/],
      [{ inputs: ["a"] }, new TextEncoder().encode("not wasm at all"), /./],
      [[1, 2], counter, /must be a JSON object/],
    ];
    for (const [manifest, component, message] of cases) {
      const r = await install(node.url, "bad", manifest, component);
      assert.equal(r.status, 400, JSON.stringify(manifest));
      assert.equal(r.body.error.code, "INVALID_ARGUMENT");
      assert.match(r.body.error.message, message);
    }
    assert.equal((await call(node.url, "GET", "/v1/operators")).body.length, 0);
    assert.equal((await call(node.url, "GET", "/healthz")).status, 200);
  });
});

Deno.test("run-time failures (invalid output topic, oversized and too many outputs) are counted, never spread", async () => {
  await withNode(async (node) => {
    const good = await install(node.url, "good", { inputs: ["nums.>"] }, counter);
    assert.equal(good.status, 201);
    // The counter's init accepts any text for its output topic: the topic is checked per output.
    const badTopic = await install(node.url, "badtopic", {
      inputs: ["nums.>"],
      queue_group: "bt",
      config: { out: "sums..bad" },
    }, counter);
    assert.equal(badTopic.status, 201);
    const tooBig = await install(node.url, "toobig", {
      inputs: ["nums.>"],
      queue_group: "tb",
      config: { out: "sums.big" },
      limits: { max_output_bytes: 8 },
    }, counter);
    assert.equal(tooBig.status, 201);
    const fan = await install(node.url, "fan", {
      inputs: ["fan.in"],
      limits: { max_outputs: 3, max_output_bytes: 1000 },
    }, fanout);
    assert.equal(fan.status, 201);
    const s = await client(node.wsUrl, ">");
    publish(s, "nums.in", "5");
    publish(s, "nums.in", "7");
    for (const n of ["2", "5", "big:2000", "big:100", "3"]) publish(s, "fan.in", n);
    publish(s, "chat.msg", "hi");
    await s.until(() => delivered(s, "chat.msg").length === 1, "plain pub/sub");
    await s.until(() => delivered(s, "sums.total").length === 2, "the good operator's outputs");
    assert.deepEqual(delivered(s, "sums.total").map((p) => payloadJson(p).sum), [5, 12]);
    // fan: 2 outputs, then 5 > max_outputs fails, 2000 bytes fails, 100 bytes ok, then 3.
    await s.until(() => delivered(s, "fan.out").length === 6, "fan outputs");
    const kind = (name: string) =>
      waitStatus(
        node.url,
        name,
        (b) => (b.counters as { pulsesIn: number }).pulsesIn >= 2,
        `${name} handled its inputs`,
      );
    const bt = await kind("badtopic");
    assert.equal((bt.counters as { failures: number }).failures, 2);
    assert.equal((bt.failures_by_kind as Record<string, number>).bad_result, 2);
    assert.equal((bt.counters as { pulsesOut: number }).pulsesOut, 0);
    // A failed pulse commits no state.
    assert.deepEqual(
      (await call(node.url, "GET", "/v1/operators/badtopic/state")).body.entries,
      [],
    );
    const tb = await kind("toobig");
    assert.equal((tb.failures_by_kind as Record<string, number>).bad_result, 2);
    assert.equal(delivered(s, "sums.big").length, 0);
    const fs = await waitStatus(
      node.url,
      "fan",
      (b) => (b.counters as { pulsesIn: number }).pulsesIn === 5,
      "fan handled 5",
    );
    assert.equal((fs.counters as { failures: number }).failures, 2);
    assert.equal((fs.counters as { pulsesOut: number }).pulsesOut, 6);
    for (const name of ["good", "badtopic", "toobig", "fan"]) {
      assert.equal((await call(node.url, "GET", `/v1/operators/${name}`)).body.status, "running");
    }
    // Everything keeps flowing afterwards.
    publish(s, "nums.in", "1");
    publish(s, "chat.msg", "still");
    await s.until(() => delivered(s, "chat.msg").length === 2, "pub/sub after failures");
    await s.until(() => delivered(s, "sums.total").length === 3, "good operator after failures");
    s.ws.close();
  }, { operatorMaxFailures: 100 });
});

Deno.test("an operator feeding on its own outputs is cut at the hop limit, counted", async () => {
  await withNode(async (node) => {
    const loop = await call(node.url, "PUT", "/v1/operators/loop", {
      builtin: "echo",
      inputs: ["loop.>"],
      config: { to: "loop.again" },
    });
    assert.equal(loop.status, 201);
    const s = await client(node.wsUrl, "loop.>");
    publish(s, "loop.start", "x");
    const got = await waitStatus(
      node.url,
      "loop",
      (b) => (b.counters as { hopDrops: number }).hopDrops === 1,
      "a hop drop",
    );
    assert.equal((got.counters as { pulsesOut: number }).pulsesOut, 16);
    await s.until(() => delivered(s).length === 17, "start plus 16 hops");
    assert.equal(
      (delivered(s).at(-1)!.headers as Record<string, string>)["arqon-hops"],
      "16",
    );
    assert.equal(got.status, "running");
    s.ws.close();
  });
});
