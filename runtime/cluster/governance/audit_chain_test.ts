import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { startJetStream } from "../../../tests/support/jetstream_server.ts";
import { AUDIT_SUBJECT, ClusterAudit } from "./audit_chain.ts";

const entry = (action: string, i: number) => ({
  time: new Date().toISOString(),
  action,
  actor: "root",
  details: { i },
});

Deno.test("cluster audit: two nodes appending at once write one chain that verifies", async () => {
  const server = await startJetStream();
  const [nc1, nc2, nc3] = await Promise.all([1, 2, 3].map(() => connect({ servers: server.url })));
  try {
    const a = await ClusterAudit.open({ nc: nc1, nodeId: "a" });
    const b = await ClusterAudit.open({ nc: nc2, nodeId: "b" });
    for (let i = 0; i < 150; i++) {
      a.append(entry("policy.publish", i));
      b.append(entry("control.set", i));
    }
    await Promise.all([a.flush(), b.flush()]);
    const verdict = await a.verify();
    assert.deepEqual(verdict, { ok: true, entries: 300, pending: 0, dropped: 0 });
    assert.equal((await b.verify()).ok, true);
    // Each node's entries are all there, in its own order.
    const { entries, size } = await b.list(1, 1000);
    assert.equal(size, 300);
    for (const node of ["a", "b"]) {
      const mine = entries.filter((e) => e.details.node === node).map((e) => e.details.i);
      assert.deepEqual(mine, Array.from({ length: 150 }, (_, i) => i));
    }
    assert.deepEqual((await a.list(299, 10)).entries.map((e) => e.seq), [299, 300]);

    // A write that does not link to the head is refused by the stream (no fork).
    const js = jetstream(nc3);
    await assert.rejects(
      js.publish(AUDIT_SUBJECT, "{}", { expect: { lastSequence: 10 } }),
      /wrong last sequence/,
    );
    // A forged entry appended without the expectation breaks verification at its place.
    await js.publish(AUDIT_SUBJECT, JSON.stringify({ ...entries[0], seq: 301 }));
    const broken = await a.verify();
    assert.equal(broken.ok, false);
    assert.equal(broken.firstBroken?.line, 301);

    // Bound: entries past maxPending are dropped and counted while NATS is away.
    let drops = 0;
    const c = await ClusterAudit.open({
      nc: nc3,
      nodeId: "c",
      maxPending: 5,
      onDrop: () => void drops++,
    });
    await server.stop();
    for (let i = 0; i < 20; i++) c.append(entry("token.issue", i));
    assert.equal(c.pending <= 5, true);
    assert.equal(c.dropped >= 15, true);
    assert.equal(drops, c.dropped, "each drop is told (the node counts it)");
    c.close();
    a.close();
    b.close();
  } finally {
    for (const nc of [nc1, nc2, nc3]) await nc.close();
    await server.stop();
  }
});
