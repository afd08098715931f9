/**
 * Failover of a cluster, on real processes: three nats-server processes (Debian's) as one
 * JetStream cluster on loopback ports, and ArqonBus nodes on it.
 *
 * - SIGKILL of the NATS server that leads a reality's stream while clients publish with
 *   durable acks on two nodes: every acknowledged pulse is in the stream exactly once, the
 *   sequences are contiguous, publishing resumes after the election; the unavailable
 *   window is printed.
 * - SIGKILL of an ArqonBus node (a child process): the TypeScript client, given both
 *   nodes' URLs, reconnects to the other and resumes after its last sequence: no gap, no
 *   duplicate.
 */
import assert from "node:assert/strict";
import { ArqonClient, type ArqonNode, startNode } from "../mod.ts";
import { connectCluster } from "../runtime/cluster/mod.ts";
import { decodePulse } from "../runtime/protocol/mod.ts";
import { NatsCluster } from "./support/nats_cluster.ts";
import { spawnNode } from "./store_node_process.ts";
import { client, delivered } from "./support/operators.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `ok` every 20 ms; throws after `ms` with `what` and `state()`. */
async function until(
  ok: () => boolean,
  what: string,
  ms = 20_000,
  state = () => "",
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${state()}`);
    await sleep(20);
  }
}

Deno.test("failover: SIGKILL of the stream leader loses no acknowledged pulse; sequences stay contiguous", async () => {
  const nats = await NatsCluster.start(3);
  const nodes: ArqonNode[] = [];
  const clients: ArqonClient[] = [];
  const check = await connectCluster({ cluster: nats.urls });
  try {
    for (let i = 0; i < 2; i++) {
      nodes.push(
        await startNode({
          port: 0,
          memory: true,
          log: "quiet",
          shutdownGraceMs: 200,
          // Each node knows every server: it moves to another when its own dies.
          cluster: nats.urls,
        }),
      );
    }
    assert.equal(nodes[0].cluster!.replicas, 3);
    for (const node of nodes) clients.push(await ArqonClient.connect(node.wsUrl, { name: "pub" }));
    // A raw WebSocket subscriber on node B sees the one sequence too.
    const watcher = await client(nodes[1].wsUrl, "fo.>", "failover");
    // The stream is made on first use: electing its R3 leader on a busy machine may take
    // longer than one publish waits (a typed refusal, then the retry is stored).
    let first: Awaited<ReturnType<ArqonClient["publish"]>> | undefined;
    for (let attempt = 0; first === undefined; attempt++) {
      try {
        first = await clients[0].publish("fo.x", "warm", { ack: "durable", reality: "failover" });
      } catch (err) {
        if (attempt >= 4) throw err;
        await sleep(500);
      }
    }
    assert.ok(Number(first?.sequence) >= 1);

    const acked = new Map<string, number>(); // payload -> sequence acknowledged
    const refusals: string[] = [];
    let lastAckAt = Date.now();
    let longestGapMs = 0;
    let stop = false;
    const publisher = async (c: ArqonClient, name: string) => {
      for (let i = 0; !stop; i++) {
        const payload = `${name}-${i}`;
        try {
          const ack = await c.publish("fo.x", payload, { ack: "durable", reality: "failover" });
          const now = Date.now();
          longestGapMs = Math.max(longestGapMs, now - lastAckAt);
          lastAckAt = now;
          acked.set(payload, Number(ack!.sequence));
        } catch (err) {
          // Not acknowledged: allowed to be stored or not, never acknowledged.
          refusals.push(`${payload}: ${(err as Error).message}`);
          await sleep(50);
        }
      }
    };
    const running = [publisher(clients[0], "a"), publisher(clients[1], "b")];
    while (acked.size < 100) await sleep(20);
    const info = await check.jsm.streams.info("ar_failover");
    const leaderName = info.cluster?.leader;
    const leader = nats.servers.find((s) => s.name === leaderName);
    assert.ok(leader, `stream leader ${leaderName}`);
    const beforeKill = acked.size;
    const killedAt = Date.now();
    await leader.kill("SIGKILL");
    // Publishing resumes after the election: 200 more acknowledgements.
    const deadline = Date.now() + 45_000;
    while (acked.size < beforeKill + 200 && Date.now() < deadline) await sleep(50);
    stop = true;
    await Promise.all(running);
    assert.ok(acked.size >= beforeKill + 200, `resumed after the kill: ${acked.size - beforeKill}`);
    console.log(
      `failover: stream leader ${leaderName} killed; longest wait between acks ${longestGapMs} ms; ` +
        `${refusals.length} publishes refused meanwhile (typed), ${acked.size} acked; ` +
        `resumed ${Date.now() - killedAt} ms after the kill at most`,
    );

    // The stream as JetStream holds it: contiguous, and every acked pulse once at its seq.
    const state = (await check.jsm.streams.info("ar_failover")).state;
    assert.equal(state.first_seq, 1);
    assert.equal(state.messages, state.last_seq, "no gap in the stream");
    const bySeq = new Map<number, string>();
    const counts = new Map<string, number>();
    const decoder = new TextDecoder();
    // Read message by message (retried: the test's own connection may be moving servers).
    for (let seq = 1; seq <= state.last_seq; seq++) {
      let data: Uint8Array | undefined;
      for (let attempt = 0; data === undefined; attempt++) {
        try {
          data = (await check.jsm.streams.getMessage("ar_failover", { seq }))!.data;
        } catch (err) {
          if (attempt >= 10) throw err;
          await sleep(200);
        }
      }
      const payload = decoder.decode(decodePulse(data).payload ?? new Uint8Array());
      bySeq.set(seq, payload);
      counts.set(payload, (counts.get(payload) ?? 0) + 1);
    }
    for (const [payload, seq] of acked) {
      assert.equal(counts.get(payload), 1, `${payload} stored exactly once`);
      assert.equal(bySeq.get(seq), payload, `${payload} at its acknowledged sequence ${seq}`);
    }
    // The subscriber on B: 1..last, gapless, in order.
    await watcher.until(
      () => delivered(watcher).length >= state.last_seq,
      `all ${state.last_seq} pulses on B (got ${delivered(watcher).length})`,
      30_000,
    ).catch((err) => {
      throw new Error(`${err.message}: B has ${delivered(watcher).length}`);
    });
    const seqs = delivered(watcher).map((p) => Number(p.sequence));
    assert.deepEqual(seqs, Array.from({ length: state.last_seq }, (_, i) => i + 1));
    await watcher.close();
  } finally {
    for (const c of clients) await c.close();
    for (const n of nodes) await n.shutdown();
    await check.close();
    await nats.close();
  }
});

Deno.test("failover: SIGKILL of an ArqonBus node; the client resumes on another node with no gap and no duplicate", async () => {
  const nats = await NatsCluster.start(3);
  const args = ["--memory", "--cluster", nats.urls];
  const a = await spawnNode(args);
  const b = await spawnNode(args);
  let sdk: ArqonClient | undefined;
  try {
    // Both nodes keep the reality's history (a retention rule on each).
    for (const n of [a, b]) {
      const res = await fetch(`${n.url}/v1/realities`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "resume", retention: [{ pattern: ">" }] }),
      });
      assert.equal(res.status, 201, await res.text());
    }
    sdk = await ArqonClient.connect([a.wsUrl, b.wsUrl], { name: "reader", reconnectDelayMs: 50 });
    const got: number[] = [];
    const sub = sdk.subscribe("r.>", {
      reality: "resume",
      onPulse: (p) => got.push(Number(p.sequence)),
    });
    await sub.ready;
    // Published on B over HTTP (durable), while A serves the reader and then dies.
    let published = 0;
    let stop = false;
    const publishing = (async () => {
      while (!stop) {
        const res = await fetch(`${b.url}/v1/realities/resume/topics/r.x?ack=durable`, {
          method: "POST",
          body: `p${published}`,
        });
        const text = await res.text();
        if (res.status === 503) {
          // A typed refusal while the cluster is busy (CLUSTER_UNAVAILABLE): not
          // acknowledged, so not counted; whether it was stored, the sequence check says.
          assert.match(text, /CLUSTER_UNAVAILABLE/);
          await sleep(100);
          continue;
        }
        assert.equal(res.status, 200, text);
        published++;
        if (published % 20 === 0) await sleep(10);
      }
    })();
    const status = () => `(got ${got.length}, published ${published})`;
    await until(() => got.length >= 100, "100 pulses through A", 20_000, status);
    a.child.kill("SIGKILL");
    await a.child.status;
    await until(() => sdk!.reconnects > 0, "the reconnect", 20_000, status);
    assert.equal(sdk.url, b.wsUrl);
    const target = published + 100;
    await until(() => published >= target, "100 more published", 20_000, status);
    stop = true;
    await publishing;
    await until(() => got.length >= published, "every pulse", 20_000, status).catch(() => {});
    // Every acknowledged pulse, no gap, no duplicate (a refused publish stored after all
    // adds a sequence: the check is on the sequences).
    assert.ok(got.length >= published, status());
    assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => i + 1));
  } finally {
    await sdk?.close();
    for (const n of [a, b]) {
      try {
        n.child.kill("SIGTERM");
      } catch { /* gone */ }
      await n.child.status;
      await n.rest;
    }
    await nats.close();
  }
});
