/**
 * Causal subscriptions (issue 14 item 1, docs/time.md): one raw protobuf connection (not
 * our SDK) subscribes in two realities with `order: CAUSAL`; a pulse is delivered only after
 * the pulses it depends on that those subscriptions match, a dependency missing past the
 * timeout yields a CAUSAL_GAP error naming it and delivery goes on, and the gate that holds
 * pulses is bounded (in pulses and in bytes: a node child's RSS stays flat past it).
 */
import assert from "node:assert/strict";
import { ArqonClient, type IPulse } from "../mod.ts";
import { withNode } from "./support/node.ts";
import { F, frames, msg, num, pb, type PbField, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { mb, startNodeChild } from "./adversarial/support.ts";

const CAUSAL = 1;

async function raw(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, "arqon.v1.proto");
  s.send(pb([[F.hello, [[1, name], [2, 1]]]]));
  await s.wait(F.welcome);
  return s;
}

/** Subscribe{id, reality, ">", correlation, extra...}. */
function subscribe(s: RawSocket, id: number, reality: string, extra: PbField[] = []): void {
  s.send(pb([[F.subscribe, [[1, id], [2, reality], [3, ">"], [12, 900 + id], ...extra]]]));
}

function publish(
  s: RawSocket,
  reality: string,
  topic: string,
  consumed: Record<string, number> = {},
  payload = new Uint8Array(0),
): void {
  const entries: PbField[] = Object.entries(consumed).map(([k, v]) => [5, [[1, k], [2, v]]]);
  const pulse: PbField[] = [[3, topic], [5, reality]];
  if (payload.length) pulse.push([11, payload]);
  s.send(pb([[F.publish, [[3, pulse], ...entries]]]));
}

/** "reality:sequence" of each delivery, in order. */
function order(s: RawSocket): string[] {
  return s.of(F.deliver).map((d) => {
    const p = msg(d, 2);
    return `${str(p, 5)}:${num(p, 2)}`;
  });
}

Deno.test("causal: a pulse waits for its dependency held back on a slow subscription", async () => {
  await withNode(async (node) => {
    const watcher = await raw(node.wsUrl, "watcher");
    // ca is flow-controlled (one delivery until credit): its pulses wait in the node.
    subscribe(watcher, 1, "ca", [[8, 1], [15, CAUSAL]]);
    subscribe(watcher, 2, "cb", [[15, CAUSAL]]);
    // The same realities in arrival order on a second connection, for contrast.
    const plain = await raw(node.wsUrl, "plain");
    subscribe(plain, 1, "ca", [[8, 1]]);
    subscribe(plain, 2, "cb");
    await watcher.wait(F.subscribed, 2);
    await plain.wait(F.subscribed, 2);
    const source = await ArqonClient.connect(node.wsUrl, { name: "source" });
    const relay = await ArqonClient.connect(node.wsUrl, { name: "relay" });
    const seen: IPulse[] = [];
    const tap = relay.subscribe("x.>", { reality: "ca", onPulse: (p) => seen.push(p) });
    await tap.ready;
    for (let i = 1; i <= 3; i++) await source.publish(`x.${i}`, "x", { reality: "ca" });
    while (seen.length < 3) await new Promise((r) => setTimeout(r, 5));
    // The relay consumed ca:3; its pulse in cb depends on ca:1..3.
    await relay.publish("y.1", "y", { reality: "cb" });
    await plain.until(() => order(plain).includes("cb:1"), "plain gets cb:1");
    assert.deepEqual(order(plain), ["ca:1", "cb:1"], "arrival order overtakes ca:2");
    await watcher.until(() => order(watcher).length >= 1, "ca:1");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(order(watcher), ["ca:1"], "cb:1 is held while ca:2 and ca:3 wait");
    watcher.send(pb([[F.credit, [[1, 1], [2, 10]]]]));
    await watcher.until(() => order(watcher).length === 4, "all four");
    assert.deepEqual(order(watcher), ["ca:1", "ca:2", "ca:3", "cb:1"]);
    assert.equal(watcher.of(F.error).length, 0);
    await source.close();
    await relay.close();
    await watcher.close();
    await plain.close();
  });
});

Deno.test("causal: a dependency published late is waited for, one never published is a CAUSAL_GAP", async () => {
  await withNode(async (node) => {
    const watcher = await raw(node.wsUrl, "watcher");
    subscribe(watcher, 1, "da", [[15, CAUSAL], [16, 400]]);
    subscribe(watcher, 2, "db", [[15, CAUSAL], [16, 400]]);
    await watcher.wait(F.subscribed, 2);
    const producer = await raw(node.wsUrl, "producer");
    // da:1 reports db:1 consumed before db:1 exists (its producer is slow, or on another
    // node): it is held until db:1 arrives.
    publish(producer, "da", "p.1", { db: 1 });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(order(watcher), []);
    publish(producer, "db", "q.1");
    await watcher.until(() => order(watcher).length === 2, "both");
    assert.deepEqual(order(watcher), ["db:1", "da:1"]);
    // da:2 depends on db:50, which never comes: past 400 ms a CAUSAL_GAP names it, then
    // da:2 is delivered, and da:3 (no missing dependency) follows it.
    publish(producer, "da", "p.2", { db: 50 });
    publish(producer, "da", "p.3");
    await watcher.until(() => order(watcher).length === 4, "da:2 and da:3", 5000);
    assert.deepEqual(order(watcher), ["db:1", "da:1", "da:2", "da:3"]);
    const [gap] = watcher.of(F.error);
    assert.equal(num(gap, 1), 26, str(gap, 2)); // CAUSAL_GAP
    assert.equal(num(gap, 4), 1, "names the subscription");
    assert.match(str(gap, 2), /da:2/);
    assert.match(str(gap, 2), /db:50/);
    // A timeout past the maximum is refused.
    subscribe(watcher, 3, "dc", [[15, CAUSAL], [16, 60_001]]);
    await watcher.until(() => watcher.of(F.error).length === 2, "refusal");
    assert.equal(num(watcher.of(F.error)[1], 1), 19); // INVALID_ARGUMENT
    await watcher.close();
    await producer.close();
  });
});

Deno.test("causal: a flood whose dependency never arrives stays within the gate's bounds", async () => {
  // A node of its own (a child process): its RSS is the node's alone, not the test runner's
  // with every other test file running beside it.
  const node = await startNodeChild(["--memory", "--causal-max-held", "200"]);
  try {
    const watcher = await raw(node.wsUrl, "watcher");
    subscribe(watcher, 1, "fa", [[15, CAUSAL], [16, 60_000]]);
    subscribe(watcher, 2, "fb", [[15, CAUSAL], [16, 60_000]]);
    await watcher.wait(F.subscribed, 2);
    const flooder = await raw(node.wsUrl, "flooder");
    const payload = new Uint8Array(1024).fill(7);
    const before = node.rss();
    const total = 3000;
    for (let i = 0; i < total; i++) publish(flooder, "fa", "f.x", { fb: 1_000_000 }, payload);
    // The bound (200 pulses) lets the oldest go early, each with a CAUSAL_GAP; the last 200
    // stay held (their 60 s timeout has not passed).
    await watcher.until(
      () => order(watcher).length === total - 200,
      "all but the held 200",
      20_000,
    );
    const gaps = watcher.of(F.error).filter((e) => num(e, 1) === 26);
    assert.equal(gaps.length, total - 200);
    assert.match(str(gaps[0], 2), /at most 200 pulses/);
    assert.deepEqual(order(watcher).slice(0, 3), ["fa:1", "fa:2", "fa:3"], "in order");
    assert.ok(await node.metric("arqon_limit_hits_total", 'limit="causal_held"') >= total - 200);
    // Another client is served meanwhile.
    const other = await raw(node.wsUrl, "other");
    subscribe(other, 1, "fo");
    await other.wait(F.subscribed);
    publish(flooder, "fo", "o.k");
    await other.wait(F.deliver);
    // Memory: 3,000 pulses of 1 KiB went through; what is held is bounded by the gate.
    const grown = node.rss() - before;
    console.log(`node RSS +${mb(grown)} after ${total} pulses held and let go`);
    assert.ok(grown < 64 * 1024 * 1024, `RSS grew ${mb(grown)}`);
    await watcher.close();
    await flooder.close();
    await other.close();
  } finally {
    await node.stop();
  }
});

Deno.test("causal: the gate's byte bound lets the oldest go early too", async () => {
  await withNode(async (node) => {
    const watcher = await raw(node.wsUrl, "watcher");
    subscribe(watcher, 1, "ga", [[15, CAUSAL], [16, 60_000]]);
    subscribe(watcher, 2, "gb", [[15, CAUSAL], [16, 60_000]]);
    await watcher.wait(F.subscribed, 2);
    const flooder = await raw(node.wsUrl, "flooder");
    const payload = new Uint8Array(4096).fill(1);
    for (let i = 0; i < 500; i++) publish(flooder, "ga", "g.x", { gb: 1_000_000 }, payload);
    // 64 KiB hold at most 15 pulses of 4 KiB (plus envelope): 485 or more go early.
    await watcher.until(() => order(watcher).length >= 485, "all but the held", 20_000);
    await new Promise((r) => setTimeout(r, 50));
    const delivered = order(watcher).length;
    assert.ok(delivered >= 485 && delivered < 500, `${delivered} delivered`);
    const gaps = watcher.of(F.error).filter((e) => num(e, 1) === 26);
    assert.equal(gaps.length, delivered);
    assert.match(str(gaps[0], 2), /65536 bytes/);
    await watcher.close();
    await flooder.close();
  }, { causalMaxHeldBytes: 64 * 1024 });
});

Deno.test("causal: a dependency still being replayed from the log is waited for", async () => {
  await withNode(async (node) => {
    const created = await fetch(`${node.url}/v1/realities`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "rx", retention: [{ pattern: ">" }] }),
    });
    assert.equal(created.status, 201);
    const source = await ArqonClient.connect(node.wsUrl, { name: "source" });
    const relay = await ArqonClient.connect(node.wsUrl, { name: "relay" });
    let seen = 0;
    await relay.subscribe("x.>", { reality: "rx", onPulse: () => seen++ }).ready;
    const total = 2000;
    for (let i = 1; i < total; i++) source.publish("x.n", "x", { reality: "rx", ack: "none" });
    await source.publish("x.n", "x", { reality: "rx", ack: "durable" });
    while (seen < total) await new Promise((r) => setTimeout(r, 5));
    const watcher = await raw(node.wsUrl, "watcher");
    // rx from its first stored pulse (replayed from the log, then live), ra live.
    subscribe(watcher, 1, "rx", [[5, 1], [6, 1], [15, CAUSAL]]);
    subscribe(watcher, 2, "ra", [[15, CAUSAL]]);
    await watcher.wait(F.subscribed, 2);
    await relay.publish("y.1", "y", { reality: "ra" }); // depends on rx:1..2000
    await watcher.until(() => order(watcher).length === total + 1, "everything", 20_000);
    const got = order(watcher);
    assert.equal(got.indexOf("ra:1"), total, "ra:1 after the whole replay of rx");
    assert.equal(watcher.of(F.error).length, 0);
    await source.close();
    await relay.close();
    await watcher.close();
  });
});

/**
 * What a subscriber received, without the payloads (they would weigh on the test runner):
 * "reality:sequence" of each delivery, and the code and message of each error.
 */
class TallySocket {
  readonly delivered: string[] = [];
  readonly errors: { code: number; message: string }[] = [];
  readonly ws: WebSocket;
  private constructor(ws: WebSocket) {
    this.ws = ws;
  }

  static async open(url: string, name: string): Promise<TallySocket> {
    const ws = new WebSocket(url, "arqon.v1.proto");
    ws.binaryType = "arraybuffer";
    const s = new TallySocket(ws);
    const welcomed = Promise.withResolvers<void>();
    ws.onmessage = (e) => {
      for (const [kind, m] of frames(new Uint8Array(e.data))) {
        if (kind === F.welcome || kind === F.subscribed) welcomed.resolve();
        if (kind === F.deliver) {
          const p = msg(m, 2);
          s.delivered.push(`${str(p, 5)}:${num(p, 2)}`);
        } else if (kind === F.error) s.errors.push({ code: num(m, 1), message: str(m, 2) });
      }
    };
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    ws.send(pb([[F.hello, [[1, name], [2, 1]]]]));
    await welcomed.promise;
    return s;
  }

  async until(
    predicate: () => boolean,
    what: string | (() => string),
    timeoutMs = 120_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

Deno.test("causal: large pulses whose dependency never arrives stay within the byte bound (node child)", async () => {
  // The count bound (4096, the default) would hold every pulse of this flood: only the
  // byte bound (1 MiB) lets them go. Unbounded, each round would stay held (60 s timeout).
  const node = await startNodeChild(["--memory", "--causal-max-held-bytes", String(1 << 20)]);
  try {
    const watcher = await TallySocket.open(node.wsUrl, "watcher");
    for (const [id, reality] of [[1, "ha"], [2, "hb"]] as const) {
      watcher.ws.send(
        pb([[F.subscribe, [[1, id], [2, reality], [3, ">"], [12, id], [15, CAUSAL], [
          16,
          60_000,
        ]]]]),
      );
    }
    const flooder = await raw(node.wsUrl, "flooder");
    publish(flooder, "hb", "warm.up");
    await watcher.until(() => watcher.delivered.includes("hb:1"), "hb:1");
    const before = node.rss();
    const rss: number[] = [];
    const perRound = 800;
    const rounds = 3;
    const payload = new Uint8Array(64 << 10);
    const step = 100;
    for (let round = 1; round <= rounds; round++) {
      // In steps of 100 (6.4 MiB), each let go before the next: the gate is what is
      // driven past, not the watcher's outbound queue or the flooder's ingress.
      for (let i = 0; i < perRound; i += step) {
        for (let j = i; j < i + step; j++) {
          payload.fill(j & 0xff);
          publish(flooder, "ha", "h.x", { hb: 1_000_000 }, payload);
        }
        // 1 MiB holds at most 15 pulses of 64 KiB (plus envelope): the rest go out early,
        // each with a CAUSAL_GAP error saying which bound let it go.
        const want = 1 + (round - 1) * perRound + i + step - 15;
        await watcher.until(
          () => watcher.delivered.length >= want,
          () => `round ${round}: ${want} let go (${watcher.delivered.length} so far)`,
        );
      }
      rss.push(node.rss());
    }
    const gone = watcher.delivered.length - 1;
    const total = rounds * perRound;
    assert.ok(gone >= total - 15 && gone < total, `${gone} of ${total} let go`);
    assert.deepEqual(
      watcher.delivered.slice(1),
      Array.from({ length: gone }, (_, i) => `ha:${i + 1}`),
      "in order",
    );
    const gaps = watcher.errors.filter((e) => e.code === 26); // CAUSAL_GAP
    assert.equal(gaps.length, gone);
    assert.match(gaps[0].message, /1048576 bytes/);
    assert.equal(watcher.errors.length, gaps.length, "no other error");
    assert.ok(await node.metric("arqon_limit_hits_total", 'limit="causal_held"') >= gone);
    // Another client is served meanwhile.
    const other = await raw(node.wsUrl, "other");
    subscribe(other, 1, "ho");
    await other.wait(F.subscribed);
    publish(flooder, "ho", "o.k");
    await other.wait(F.deliver);
    // Memory: each round pushes 50 MiB through the gate. The first round grows the heaps
    // (a plain subscriber's round grows them as much); later rounds reuse them, where an
    // unbounded gate would add each round's 50 MiB.
    console.log(`node RSS after each round: ${rss.map((r) => `+${mb(r - before)}`).join(", ")}`);
    assert.ok(rss[0] - before < 160 * 1024 * 1024, `round 1 grew RSS by ${mb(rss[0] - before)}`);
    assert.ok(
      rss[rounds - 1] - rss[0] < 48 * 1024 * 1024,
      `rounds 2-${rounds} grew RSS by ${mb(rss[rounds - 1] - rss[0])}`,
    );
    watcher.ws.close();
    await flooder.close();
    await other.close();
  } finally {
    await node.stop();
  }
});
