import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { BusError } from "../../protocol/mod.ts";
import { startJetStream } from "../../../tests/support/jetstream_server.ts";
import { type GovernanceChange, GovernanceSync } from "./sync.ts";

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("governance sync: changes reach other nodes in revision order, a late node loads them, bounds are typed", async () => {
  const server = await startJetStream();
  const conns = await Promise.all([1, 2, 3].map(() => connect({ servers: server.url })));
  const syncs: GovernanceSync[] = [];
  try {
    const seenB: GovernanceChange[] = [];
    const limits: string[] = [];
    const a = await GovernanceSync.open({
      nc: conns[0],
      nodeId: "a",
      maxValueBytes: 1024,
      maxKeysPerKind: 5,
      onLimit: (limit) => void limits.push(limit),
    });
    const b = await GovernanceSync.open({ nc: conns[1], nodeId: "b" });
    syncs.push(a, b);
    b.on("params", (c) => void seenB.push(c));
    await a.start();
    await b.start();

    await a.put("params", "lab", { version: 1, params: { gain: 1 } });
    await a.put("params", "lab", { version: 2, params: { gain: 2 } });
    await a.put("ban", "id:mallory", { untilMs: Date.now() + 60_000 });
    await until(() => seenB.length === 2);
    assert.deepEqual(seenB.map((c) => (c.value as { version: number }).version), [1, 2]);
    assert.equal(seenB[0].origin.startsWith("a/"), true);
    // The writer does not apply its own echo.
    let echoes = 0;
    a.on("params", () => void echoes++);
    await b.put("params", "lab", { version: 3, params: { gain: 3 } });
    await until(() => echoes === 1);
    await a.delete("params", "lab");
    await until(() => seenB.at(-1)?.value === null);

    // A node that starts later loads the current records before start() resolves.
    const late = await GovernanceSync.open({ nc: conns[2], nodeId: "late" });
    syncs.push(late);
    const bans: string[] = [];
    late.on("ban", (c) => void bans.push(c.name));
    await late.start();
    assert.deepEqual(bans, ["id:mallory"]);
    assert.equal(late.records("params").size, 0);

    // Bounds: a record too large, too many keys of a kind.
    await assert.rejects(
      a.put("policy", "big", { blob: "x".repeat(2000) }),
      (e: unknown) => e instanceof BusError && e.code === "FRAME_TOO_LARGE",
    );
    for (let i = 0; i < 5; i++) await a.put("circuit", `c${i}`, { i });
    await assert.rejects(
      a.put("circuit", "c5", { i: 5 }),
      (e: unknown) => e instanceof BusError && e.code === "QUOTA_EXCEEDED",
    );
    // Replacing an existing key stays allowed at the bound.
    await a.put("circuit", "c0", { i: 0, again: true });
    // check() refuses the same way without writing (callers check before other writes).
    await assert.rejects(
      a.check("circuit", "c6", { i: 6 }),
      (e: unknown) => e instanceof BusError && e.code === "QUOTA_EXCEEDED",
    );
    await a.check("circuit", "c1", { i: 1, again: true });
    assert.equal(a.records("circuit").size, 5);
    // Revocations, like bans, end: expired ones make room for a new one at the bound.
    for (let i = 0; i < 5; i++) {
      await a.put("revoke", `sub:s${i}`, {
        subject: `s${i}`,
        untilMs: Date.now() + (i < 2 ? 1 : 60_000),
      });
    }
    await new Promise((r) => setTimeout(r, 5));
    await a.put("revoke", "sub:s5", { subject: "s5", untilMs: Date.now() + 60_000 });
    assert.deepEqual([...a.records("revoke").keys()].sort(), [
      "sub:s2",
      "sub:s3",
      "sub:s4",
      "sub:s5",
    ]);
    assert.deepEqual(limits, ["governance_record_bytes", "governance_keys", "governance_keys"]);

    // Components by digest, shared through the object store.
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7919) & 255);
    await a.putComponent("d1", bytes);
    assert.deepEqual(await b.component("d1"), bytes);
    await assert.rejects(
      b.component("missing"),
      (e: unknown) => e instanceof BusError && e.code === "GOVERNANCE_UNAVAILABLE",
    );

    // NATS gone: writes are refused with GOVERNANCE_UNAVAILABLE, not acknowledged.
    await server.stop();
    await assert.rejects(
      a.put("params", "lab", { version: 9 }),
      (e: unknown) => e instanceof BusError && e.code === "GOVERNANCE_UNAVAILABLE",
    );
  } finally {
    for (const s of syncs) s.close();
    for (const c of conns) await c.close();
    await server.stop();
  }
});
