/**
 * Fork, diff and cancel end to end (issue #14, docs/time.md "Fork"): a real node on a data
 * directory, raw WebSocket feeders (JSON subprotocol) and plain `fetch` as the client (no
 * SDK). A fork with another control parameter diverges where the operator first saw it,
 * and the diff names both payloads; a fork without one is identical; a fork from mid-log
 * starts with the parameters current there. Bad input gets typed errors; the bound on
 * concurrent replays is driven past; a cancelled fork leaves its reality marked.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
import { testOperatorComponent } from "../operators/build/mod.ts";
import type { ArqonNode } from "../runtime/node/mod.ts";
import type { NodeConfig } from "../runtime/node/mod.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { sleep } from "./support/node.ts";
import { call, install } from "./support/operators.ts";

const echo = await testOperatorComponent("control_echo");
const counter = await testOperatorComponent("counter");

async function feeder(url: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, "arqon.v1.json");
  s.send(JSON.stringify({ hello: { clientName: "feeder", protocolVersion: 1 } }));
  await s.until(() => s.json.some((f) => f.welcome), "welcome");
  return s;
}

const frame = (reality: string, topic: string, text: string) => ({
  publish: { pulse: { topic, realityId: reality, payload: btoa(text) } },
});
const setK = (reality: string, k: number) =>
  frame(reality, "sys.control.set", JSON.stringify({ params: { k_c: k } }));

async function withDataNode(
  fn: (node: ArqonNode) => Promise<void>,
  config: Partial<NodeConfig> = {},
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-fork-" });
  const node = await startNode({ port: 0, log: "quiet", shutdownGraceMs: 500, dataDir, ...config });
  try {
    await fn(node);
  } finally {
    await node.shutdown();
    await Deno.remove(dataDir, { recursive: true });
  }
}

async function handled(node: ArqonNode, name: string, n: number): Promise<void> {
  for (let i = 0; i < 6000; i++) {
    if ((await call(node.url, "GET", `/v1/operators/${name}`)).body.counters.pulsesIn >= n) return;
    await sleep(10);
  }
  throw new Error(`${name} did not handle ${n} inputs`);
}

/** Reads a fork's SSE progress stream to its end; the events' data. */
async function progress(url: string, name: string) {
  const res = await fetch(`${url}/v1/realities/${name}/fork`, {
    headers: { accept: "text/event-stream" },
  });
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const text = await res.text();
  return text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)));
}

async function forkDone(url: string, name: string) {
  const events = await progress(url, name);
  const last = events.at(-1);
  assert.equal(last.state, "done", JSON.stringify(last));
  return { events, last };
}

const outputsOf = async (url: string, reality: string) => {
  const text = await (await fetch(`${url}/v1/realities/${reality}/history?pattern=echo.>`)).text();
  return text.trim().split("\n").filter(Boolean).map((l) =>
    JSON.parse(atob(JSON.parse(l).payload))
  );
};

Deno.test("fork: another control parameter diverges, the same one does not, a mid-log fork starts there", async () => {
  await withDataNode(async (node) => {
    assert.equal(
      (await call(node.url, "PUT", "/v1/realities/lab", { retention: [{ pattern: ">" }] })).status,
      201,
    );
    assert.equal(
      (await install(node.url, "kc", { reality: "lab", inputs: ["nums.>"] }, echo)).status,
      201,
    );
    const s = await feeder(node.wsUrl);
    const first: unknown[] = [setK("lab", 0.5)];
    for (let i = 1; i <= 30; i++) first.push(frame("lab", "nums.in", String(i)));
    s.send(JSON.stringify({ batch: { frames: first } }));
    await handled(node, "kc", 30);
    const second: unknown[] = [setK("lab", 0.6)];
    for (let i = 31; i <= 60; i++) second.push(frame("lab", "nums.in", String(i)));
    s.send(JSON.stringify({ batch: { frames: second } }));
    await handled(node, "kc", 60);
    await node.store.flush();

    // Another k_c: every output differs, from the first one on.
    const started = await call(node.url, "POST", "/v1/realities/lab/fork", {
      name: "lab-kc07",
      params: { k_c: 0.7 },
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.state, "running");
    const { events, last } = await forkDone(node.url, "lab-kc07");
    assert.equal(last.total, 62);
    assert.equal(last.processed, 62);
    assert.ok(events.every((e, i) => i === 0 || e.processed >= events[i - 1].processed));
    const status = (await call(node.url, "GET", "/v1/realities/lab-kc07/fork")).body;
    assert.deepEqual(
      { state: status.state, processed: status.processed, origin: status.origin.reality },
      { state: "done", processed: 62, origin: "lab" },
    );
    // An ordinary reality, marked with its origin, with the replayed outputs in its history.
    const info = (await call(node.url, "GET", "/v1/realities/lab-kc07")).body;
    assert.match(JSON.stringify(info), /fork of lab \[1\.\.\d+\] params \{\\"k_c\\":0.7\}: done/);
    const forked = await outputsOf(node.url, "lab-kc07");
    assert.equal(forked.length, 60);
    assert.ok(forked.every((o) => o.k_c === 0.7));
    const diff = (await call(node.url, "GET", "/v1/realities/lab/diff/lab-kc07")).body;
    assert.equal(diff.identical, false);
    assert.equal(diff.first_divergence.index, 0);
    assert.equal(diff.first_divergence.producer, "operator:kc");
    assert.deepEqual(JSON.parse(atob(diff.first_divergence.a.payload)), { n: 1, k_c: 0.5 });
    assert.deepEqual(JSON.parse(atob(diff.first_divergence.b.payload)), { n: 1, k_c: 0.7 });
    assert.deepEqual(diff.counts, { a: { "echo.k_c": 60 }, b: { "echo.k_c": 60 } });

    // The same configuration: identical, both ways round.
    assert.equal(
      (await call(node.url, "POST", "/v1/realities/lab/fork", { name: "lab-same" })).status,
      202,
    );
    await forkDone(node.url, "lab-same");
    const same = (await call(node.url, "GET", "/v1/realities/lab-same/diff/lab")).body;
    assert.equal(same.identical, true, JSON.stringify(same.first_divergence));
    assert.equal(same.first_divergence, null);
    assert.deepEqual(same.outputs, { a: 60, b: 60 });
    // Two forks of one origin are related too.
    const siblings = (await call(node.url, "GET", "/v1/realities/lab-same/diff/lab-kc07")).body;
    assert.equal(siblings.identical, false);

    // From mid-log (the second set's first input): the parameters current there apply.
    const history = await (await fetch(`${node.url}/v1/realities/lab/history?pattern=nums.in`))
      .text();
    const at = Number(JSON.parse(history.trim().split("\n")[30]).sequence);
    const mid = await call(node.url, "POST", "/v1/realities/lab/fork", {
      name: "lab-mid",
      at: { sequence: at },
    });
    assert.equal(mid.status, 202, JSON.stringify(mid.body));
    await forkDone(node.url, "lab-mid");
    const tail = await outputsOf(node.url, "lab-mid");
    assert.deepEqual(tail.map((o) => o.n), Array.from({ length: 30 }, (_, i) => 31 + i));
    assert.ok(tail.every((o) => o.k_c === 0.6));
    const midDiff = (await call(node.url, "GET", "/v1/realities/lab/diff/lab-mid")).body;
    assert.equal(midDiff.identical, true, JSON.stringify(midDiff.first_divergence));
    await s.close();
  });
});

Deno.test("fork: bad input gets typed errors, the replay bound holds, a cancelled fork stays marked", async () => {
  await withDataNode(async (node) => {
    const put = (name: string, retention: unknown) =>
      call(node.url, "PUT", `/v1/realities/${name}`, { retention });
    await put("big", [{ pattern: ">" }]);
    await put("short", [{ pattern: ">", maxPulses: 5 }]);
    await put("other", [{ pattern: ">" }]);
    assert.equal(
      (await install(node.url, "sum", { reality: "big", inputs: ["nums.>"] }, counter)).status,
      201,
    );
    const s = await feeder(node.wsUrl);
    const N = 6000;
    for (let from = 0; from < N; from += 500) {
      const frames = Array.from(
        { length: 500 },
        (_, i) => frame("big", "nums.in", String(from + i + 1)),
      );
      s.send(JSON.stringify({ batch: { frames } }));
    }
    const few = Array.from({ length: 20 }, (_, i) => frame("short", "x", String(i)));
    s.send(JSON.stringify({ batch: { frames: few } }));
    await handled(node, "sum", N);
    await node.store.flush();

    const fork = (r: string, body: unknown) =>
      call(node.url, "POST", `/v1/realities/${r}/fork`, body);
    const refused = (
      a: { status: number; body: { error?: { code: string } } },
      status: number,
      code: string,
    ) => {
      assert.equal(a.status, status, JSON.stringify(a.body));
      assert.equal(a.body.error?.code, code);
    };
    refused(await fork("nope", { name: "n1" }), 404, "NOT_FOUND");
    refused(await fork("big", { name: "other" }), 409, "ALREADY_EXISTS");
    refused(await fork("big", "{not json"), 400, "INVALID_ARGUMENT");
    refused(await fork("big", { name: "p1", params: "k_c=0.7" }), 400, "INVALID_ARGUMENT");
    refused(await fork("big", { name: "Bad Name" }), 400, "INVALID_ARGUMENT");
    refused(await fork("big", { name: "p2", at: { sequence: 3 * N } }), 400, "INVALID_ARGUMENT");
    refused(await fork("big", { name: "p3", at: { when: 3 } }), 400, "INVALID_ARGUMENT");
    // "short" keeps its last 5 pulses: sequence 2 is gone.
    refused(await fork("short", { name: "p4", at: { sequence: 2 } }), 409, "NOT_RETAINED");
    refused(await call(node.url, "GET", "/v1/realities/big/diff/other"), 409, "UNRELATED");
    refused(await call(node.url, "GET", "/v1/realities/big/diff/nope"), 404, "NOT_FOUND");
    refused(await call(node.url, "GET", "/v1/realities/other/fork"), 404, "NOT_FOUND");
    refused(await call(node.url, "DELETE", "/v1/realities/other/fork"), 404, "NOT_FOUND");
    // None of the refused forks left a reality behind.
    const names =
      ((await call(node.url, "GET", "/v1/realities")).body.realities as { name: string }[])
        .map((r) => r.name).sort();
    assert.deepEqual(names, ["big", "other", "short"]);

    // One replay at a time (--replay-max-concurrent 1): the second is refused while the
    // first runs, and the node still serves everyone else.
    const a = await fork("big", { name: "big-a" });
    assert.equal(a.status, 202);
    refused(await fork("big", { name: "big-b" }), 429, "QUOTA_EXCEEDED");
    refused(await call(node.url, "POST", "/v1/realities/big/verify"), 429, "QUOTA_EXCEEDED");
    const watcher = await feeder(node.wsUrl);
    watcher.send(
      JSON.stringify({ subscribe: { subscriptionId: 1, pattern: "ping", correlationId: "1" } }),
    );
    await watcher.until(() => watcher.json.some((f) => f.subscribed), "subscribed");
    s.send(JSON.stringify(frame("", "ping", "still served")));
    await watcher.until(() => watcher.json.some((f) => f.deliver), "delivery");

    // Cancelled mid-way: failed, reason cancelled, its reality kept and marked so.
    const cancelled = await call(node.url, "DELETE", "/v1/realities/big-a/fork");
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, "failed");
    assert.equal(cancelled.body.reason, "cancelled");
    assert.ok(cancelled.body.processed < N, `${cancelled.body.processed} of ${N}`);
    const marked = (await call(node.url, "GET", "/v1/realities/big-a")).body;
    assert.match(JSON.stringify(marked), /fork of big \[1\.\.\d+\]: failed \(cancelled\)/);
    // The slot is free again.
    assert.equal((await fork("big", { name: "big-b", until: { sequence: 100 } })).status, 202);
    const b = await forkDone(node.url, "big-b");
    // The inputs among sequences 1..100 (the operator's outputs are interleaved with them).
    const upTo100 =
      await (await fetch(`${node.url}/v1/realities/big/history?to_sequence=100&pattern=nums.>`))
        .text();
    assert.equal(b.last.total, upTo100.trim().split("\n").length);
    assert.equal(b.last.processed, b.last.total);
    await s.close();
    await watcher.close();
  }, { replayMaxConcurrent: 1 });
});
