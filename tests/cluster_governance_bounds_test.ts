/**
 * The bounds of cluster governance driven past on purpose, end to end: a real nats-server
 * and a cluster node as a child process (its RSS read from /proc), used with `fetch` and a
 * raw WebSocket (no SDK). Records past the key or size bound of the governance KV bucket are
 * refused with typed errors and nothing is written; audit entries past the forwarding
 * queue's bound while NATS is away are dropped and counted, and the chain written once NATS
 * is back holds exactly the queued ones.
 */
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { mb, rssOf } from "./adversarial/support.ts";
import { type GovernedNode, spawnGovernedNode } from "./support/governed_nodes.ts";
import { NatsCluster } from "./support/nats_cluster.ts";
import { F, pb } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";

const MiB = 1024 * 1024;

/** Polls `probe` until it returns true; throws after `ms`. */
async function eventually(what: string, probe: () => Promise<boolean>, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One sample of /metrics (summed over matching label sets; 0 when absent). */
async function metric(node: GovernedNode, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) total += Number(line.split(" ")[1]);
  }
  return total;
}

/** Status and parsed JSON body of a request. */
async function call(
  url: string,
  method: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

function errorCode(json: Record<string, unknown>): string {
  return (json.error as { code?: string } | undefined)?.code ?? "";
}

/** A raw WebSocket client publishes to itself: the node still serves others. */
async function rawRoundTrip(node: GovernedNode, token: string, reality: string): Promise<void> {
  const s = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
  s.send(pb([[F.hello, [[1, "bystander"], [2, 1], [4, token]]]]));
  await s.wait(F.welcome);
  s.send(pb([[F.subscribe, [[1, 1], [2, reality], [3, "b.>"], [12, 1]]]]));
  await s.wait(F.subscribed);
  s.send(pb([[F.publish, [[3, [[3, "b.x"], [5, reality], [11, new Uint8Array([1, 2, 3])]]]]]]));
  await s.until(() => s.of(F.deliver).length === 1, "the bystander's own pulse", 15_000);
  assert.equal(s.of(F.error).length, 0);
  await s.close();
}

Deno.test("cluster governance: records past the KV bucket's key and size bounds are refused, typed, nothing written", async () => {
  const nats = await NatsCluster.start(1);
  const dir = await Deno.makeTempDir({ prefix: "arqon-govb-" });
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  let node: GovernedNode | null = null;
  const nc = await connect({ servers: nats.urls });
  try {
    node = await spawnGovernedNode(nats.urls, [
      "--auth-key",
      `${dir}/node.key`,
      "--metrics-open",
      "--cluster-governance-max-keys",
      "20",
      "--max-realities",
      "20",
      "--cluster-governance-max-record-bytes",
      "8192",
      "--control-max-bytes",
      "4096",
    ]);
    const n = node;
    const admin = await issueToken(key, { subject: "root", roles: ["admin"] });
    const revoke = (subject: string) =>
      call(`${n.url}/v1/tokens/revoke`, "POST", admin, { subject });
    const bucket = await new Kvm(nc).open("ARQON_GOVERNANCE");
    const keysOf = async (prefix: string) => {
      let count = 0;
      for await (const _ of await bucket.keys(`${prefix}.>`)) count++;
      return count;
    };

    // Keys: 20 revocations fill the bound; the 21st new one is refused, typed, not written.
    for (let i = 0; i < 20; i++) {
      const r = await revoke(`s${i}`);
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    const over = await revoke("s20");
    assert.equal(over.status, 429);
    assert.equal(errorCode(over.json), "QUOTA_EXCEEDED");
    assert.match(String((over.json.error as { message: string }).message), /limit of 20/);
    assert.equal(await keysOf("revoke"), 20);
    // A record the bucket holds already is still updated: the bound counts keys.
    assert.equal((await revoke("s0")).status, 200);
    // The node did not apply what it could not share: s20's tokens still pass.
    const s20 = await issueToken(key, { subject: "s20", realities: ["lab"] });
    const pass = await fetch(`${n.url}/v1/realities/lab/topics/t.x`, {
      method: "POST",
      headers: { authorization: `Bearer ${s20}` },
      body: "x",
    });
    assert.equal(pass.status, 200, await pass.text());

    // Size: a policy binding whose record would pass 8 KiB is refused before any write.
    const install = await fetch(`${n.url}/v1/policies/cap?builtin=payload_size_cap&reality=lab`, {
      method: "PUT",
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(install.status, 201, await install.text());
    const revision = async () =>
      (await bucket.get(`policy.${btoa("cap")}`.replace(/=+$/, "")))
        ?.revision ?? 0;
    const installedRevision = await revision();
    assert.ok(installedRevision > 0, "the policy is in the bucket");
    const realities = (count: number) =>
      Array.from({ length: count }, (_, i) => `r${String(i).padStart(6, "0")}`);
    const big = await call(`${n.url}/v1/policies/cap/binding`, "PUT", admin, {
      realities: realities(1000),
    });
    assert.equal(big.status, 413, JSON.stringify(big.json));
    assert.equal(errorCode(big.json), "FRAME_TOO_LARGE");
    assert.match(String((big.json.error as { message: string }).message), /limit of 8192/);
    const kept = await call(`${n.url}/v1/policies/cap`, "GET", admin);
    assert.equal(kept.json.version, 1, "the binding did not change here either");
    assert.equal(await revision(), installedRevision, "nothing written to the bucket");

    // Memory: 500 refused revocations and 100 refused bindings of 450 KiB each (in rounds,
    // four requests at a time) keep the node's RSS under a ceiling: the heap goes up and
    // down with the bodies in flight, nothing refused is kept.
    const pid = n.child.pid;
    const before = rssOf(pid);
    const rss: number[] = [];
    const rounds = 5;
    for (let round = 0; round < rounds; round++) {
      // Four requests at a time: a few large bodies in flight, as a busy admin client would.
      for (let batch = 0; batch < 25; batch++) {
        const refusals = await Promise.all([
          ...Array.from({ length: 4 }, (_, i) => revoke(`x${round}-${batch}-${i}`)),
          ...(batch % 5 === 0
            ? Array.from(
              { length: 4 },
              () =>
                call(`${n.url}/v1/policies/cap/binding`, "PUT", admin, {
                  realities: realities(30_000),
                }),
            )
            : []),
        ]);
        for (const r of refusals) {
          assert.ok(r.status === 429 || r.status === 413, JSON.stringify(r.json).slice(0, 200));
          assert.ok(["QUOTA_EXCEEDED", "FRAME_TOO_LARGE"].includes(errorCode(r.json)));
        }
      }
      rss.push(rssOf(pid));
    }
    console.log(`node RSS after each round: ${rss.map((r) => `+${mb(r - before)}`).join(", ")}`);
    const peak = Math.max(...rss);
    assert.ok(peak - before < 192 * MiB, `RSS peaked ${mb(peak - before)} above the baseline`);
    assert.equal(await keysOf("revoke"), 20);
    assert.equal(await metric(n, "arqon_limit_hits_total", 'limit="governance_keys"'), 501);
    assert.equal(
      await metric(n, "arqon_limit_hits_total", 'limit="governance_record_bytes"'),
      101,
    );
    // Another client is served: a raw WebSocket client publishes and receives.
    const bystander = await issueToken(key, { subject: "bystander", realities: ["calm"] });
    await rawRoundTrip(n, bystander, "calm");
  } finally {
    await node?.stop();
    await nc.close();
    await nats.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cluster audit: entries past the forwarding queue's bound while NATS is away are dropped, counted, typed", async () => {
  const nats = await NatsCluster.start(1);
  const dir = await Deno.makeTempDir({ prefix: "arqon-auditq-" });
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  let node: GovernedNode | null = null;
  try {
    node = await spawnGovernedNode(nats.urls, [
      "--auth-key",
      `${dir}/node.key`,
      "--metrics-open",
      "--cluster-audit-max-pending",
      "50",
    ]);
    const n = node;
    const admin = await issueToken(key, { subject: "root", roles: ["admin"] });
    const issue = (subject: string) =>
      call(`${n.url}/v1/tokens`, "POST", admin, { subject, realities: ["lab"] });
    type Entry = { seq: number; action: string; details: Record<string, unknown> };
    const chain = async (): Promise<Entry[]> => {
      const entries: Entry[] = [];
      for (let from: number | null = 1; from !== null;) {
        const page = await call(`${n.url}/v1/audit?from=${from}&limit=1000`, "GET", admin);
        assert.equal(page.status, 200, JSON.stringify(page.json));
        entries.push(...page.json.entries as Entry[]);
        from = page.json.next as number | null;
      }
      return entries;
    };
    // Three entries written while NATS is here.
    for (let i = 0; i < 3; i++) assert.equal((await issue(`before${i}`)).status, 201);
    await eventually("3 entries in the chain", async () => (await chain()).length === 3);

    // NATS away: the node goes on issuing tokens (a local action, audited locally); the
    // entries for the cluster's chain wait in a queue of 50, the rest are dropped and counted.
    await nats.servers[0].kill();
    const pid = n.child.pid;
    const before = rssOf(pid);
    const rss: number[] = [];
    const rounds = 4;
    const perRound = 300;
    for (let round = 0; round < rounds; round++) {
      for (let batch = 0; batch < perRound / 10; batch++) {
        const issued = await Promise.all(
          Array.from({ length: 10 }, (_, i) => issue(`away${round}-${batch}-${i}`)),
        );
        for (const r of issued) assert.equal(r.status, 201, JSON.stringify(r.json));
      }
      rss.push(rssOf(pid));
    }
    const total = rounds * perRound;
    assert.equal(
      await metric(n, "arqon_limit_hits_total", 'limit="cluster_audit_pending"'),
      total - 50,
    );
    // Reading the cluster's chain now is a typed refusal, not a hang or a 500.
    const away = await call(`${n.url}/v1/audit/verify`, "GET", admin);
    assert.equal(away.status, 503, JSON.stringify(away.json));
    assert.equal(errorCode(away.json), "GOVERNANCE_UNAVAILABLE");
    // Another client is served meanwhile: a raw WebSocket hello is welcomed.
    const bystander = await issueToken(key, { subject: "bystander", realities: ["calm"] });
    const s = await RawSocket.open(n.wsUrl, "arqon.v1.proto");
    s.send(pb([[F.hello, [[1, "bystander"], [2, 1], [4, bystander]]]]));
    await s.wait(F.welcome);
    await s.close();
    // Memory: 1,200 audited actions while NATS is away; the queue holds 50 of them.
    console.log(`node RSS after each round: ${rss.map((r) => `+${mb(r - before)}`).join(", ")}`);
    const peak = Math.max(...rss);
    assert.ok(peak - before < 64 * MiB, `RSS peaked ${mb(peak - before)} above the baseline`);

    // NATS back: the 50 queued entries are written in order, and verify reports the drops.
    nats.servers[0].start();
    await nats.waitHealthy();
    await eventually("the queued entries written", async () => {
      const v = await call(`${n.url}/v1/audit/verify`, "GET", admin);
      return v.status === 200 && v.json.pending === 0 && v.json.entries === 53;
    });
    const verdict = await call(`${n.url}/v1/audit/verify`, "GET", admin);
    assert.deepEqual(
      [verdict.json.ok, verdict.json.entries, verdict.json.pending, verdict.json.dropped],
      [true, 53, 0, total - 50],
    );
    const entries = await chain();
    assert.deepEqual(entries.map((e) => e.seq), entries.map((_, i) => i + 1));
    assert.deepEqual(
      entries.slice(3).map((e) => String(e.details.subject)).sort(),
      Array.from({ length: 50 }, (_, i) => `away0-${Math.floor(i / 10)}-${i % 10}`).sort(),
      "the first 50 issued while NATS was away",
    );
  } finally {
    await node?.stop();
    await nats.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cluster governance: a node whose realities or parameter sets cannot fit the KV bounds refuses to start", async () => {
  // Checked before the node connects anywhere: no NATS server needed.
  for (
    const [args, message] of [
      [["--cluster-governance-max-keys", "50"], /--max-realities 1000 needs/],
      [["--cluster-governance-max-record-bytes", "4096"], /--control-max-bytes 65536 needs/],
    ] as const
  ) {
    await assert.rejects(
      spawnGovernedNode("nats://127.0.0.1:1", [...args]),
      (e: unknown) => e instanceof Error && message.test(e.message),
    );
  }
});
