/**
 * Changes to a running operator under load, end to end (raw WebSocket feeder, fetch): a
 * replacement and a state restore land between two pulses, so the outputs of a counting
 * operator stay an unbroken sequence; a stopped operator stays stopped across a restart.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
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
const MANIFEST = { reality: "default", inputs: ["nums.>"] };
const INPUTS = 3000;
const SPINS = 40;
const sums = (s: Parameters<typeof delivered>[0]) =>
  delivered(s, "sums.total").map((p) => payloadJson(p).sum as number);

Deno.test("a replacement mid-stream carries the state and the queued inputs over: outputs stay 1..N", async () => {
  await withNode(async (node) => {
    const limits = { fuel: 50_000_000 };
    assert.equal((await install(node.url, "sum", { ...MANIFEST, limits }, counter)).status, 201);
    const s = await client(node.wsUrl, "sums.>");
    // Fuel-exhausting pulses ("spin", failed and counted) hold the operator up, so inputs
    // are queued for it when the replacement lands. The first 50 are handled before the
    // spins are sent: a batch takes everything queued (up to 1,024), so spins sent with
    // them would be handled in the same batch as all the rest.
    for (let i = 0; i < 50; i++) publish(s, "nums.in", "1");
    await s.until(() => sums(s).length >= 50, "first outputs", 20_000);
    for (let i = 0; i < SPINS; i++) publish(s, "nums.in", "spin");
    for (let i = 50; i < INPUTS - 1; i++) publish(s, "nums.in", "1");
    // The last one acknowledged: once its ack is back, every input is sequenced and queued.
    s.send(JSON.stringify({
      publish: {
        correlationId: "1",
        ack: "ACK_MODE_RECEIVED",
        pulse: { topic: "nums.in", payload: btoa("1") },
      },
    }));
    await s.until(() => s.json.some((f) => f.ack), "the last input's ack", 20_000);
    const before = (await call(node.url, "GET", "/v1/operators/sum")).body.counters;
    assert.ok(before.pulsesIn < INPUTS, `replaced mid-stream (${before.pulsesIn} handled)`);
    // The same component and limits (the engine's cache makes this quick) under a new
    // config: a replacement (200) while the spins hold the old version up.
    const replaced = await install(node.url, "sum", {
      ...MANIFEST,
      limits,
      config: { out: "sums.total" },
    }, counter);
    assert.equal(replaced.status, 200);
    await s.until(() => sums(s).length === INPUTS, "every input handled", 60_000);
    assert.deepEqual(sums(s), [...Array(INPUTS)].map((_, i) => i + 1));
    const got = (await call(node.url, "GET", "/v1/operators/sum")).body;
    // Every input handled exactly once across the two versions (spins fail on fuel).
    await waitStatus(
      node.url,
      "sum",
      (b) => (b.counters as { pulsesIn: number }).pulsesIn === INPUTS + SPINS,
      "all inputs counted",
    );
    assert.equal(got.counters.pulsesOut, INPUTS);
    assert.equal(
      (await call(node.url, "GET", "/v1/operators/sum")).body.failures_by_kind.fuel_exhausted,
      SPINS,
    );
    s.ws.close();
  }, { operatorMaxFailures: 1000 });
});

Deno.test("a restore mid-stream lands between two pulses: no output mixes old and new state", async () => {
  await withNode(async (node) => {
    assert.equal((await install(node.url, "sum", MANIFEST, counter)).status, 201);
    const s = await client(node.wsUrl, "sums.>");
    for (let i = 0; i < INPUTS; i++) publish(s, "nums.in", "1");
    await s.until(() => sums(s).length >= 50, "first outputs", 20_000);
    const base = 1_000_000;
    const r = await call(node.url, "PUT", "/v1/operators/sum/state", {
      version: 1,
      entries: [{ key: "sum", value: btoa(String(base)) }],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // Inputs published after the restore answered: on a fast operator the first ones may
    // all be handled before it lands, these never are.
    const after = 50;
    for (let i = 0; i < after; i++) publish(s, "nums.in", "1");
    const total = INPUTS + after;
    await s.until(() => sums(s).length === total, "every input handled", 30_000);
    const out = sums(s);
    // 1..k on the old state, then base+1.. on the restored one: each input counted once.
    const k = out.findIndex((n) => n > base);
    assert.ok(k > 0 && k <= INPUTS, `switch at ${k}`);
    assert.deepEqual(out.slice(0, k), [...Array(k)].map((_, i) => i + 1));
    assert.deepEqual(out.slice(k), [...Array(total - k)].map((_, i) => base + i + 1));
    const snap = (await call(node.url, "GET", "/v1/operators/sum/state")).body;
    assert.equal(atob(snap.entries[0].value), String(base + total - k));
    s.ws.close();
  });
});

Deno.test("a stopped operator stays stopped across a node restart, with its state", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-opstop-" });
  try {
    const config = { port: 0, log: "quiet" as const, shutdownGraceMs: 500, dataDir };
    let node = await startNode(config);
    try {
      assert.equal((await install(node.url, "sum", MANIFEST, counter)).status, 201);
      const s = await client(node.wsUrl, "sums.>");
      publish(s, "nums.in", "4");
      await s.until(() => sums(s).length === 1, "one sum");
      assert.equal((await call(node.url, "POST", "/v1/operators/sum/stop")).status, 200);
      s.ws.close();
    } finally {
      await node.shutdown();
    }
    node = await startNode(config);
    try {
      assert.equal((await call(node.url, "GET", "/v1/operators/sum")).body.status, "stopped");
      const s = await client(node.wsUrl, "sums.>");
      publish(s, "nums.in", "1");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(sums(s).length, 0);
      assert.equal((await call(node.url, "POST", "/v1/operators/sum/resume")).status, 200);
      publish(s, "nums.in", "1");
      await s.until(() => sums(s).length === 1, "sum after resume");
      assert.deepEqual(sums(s), [5]);
      s.ws.close();
    } finally {
      await node.shutdown();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
