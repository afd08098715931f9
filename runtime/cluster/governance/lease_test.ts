import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { BusError } from "../../protocol/mod.ts";
import { startJetStream } from "../../../tests/support/jetstream_server.ts";
import { Leases } from "./lease.ts";

Deno.test("leases: one holder at a time, renewals fenced, takeover after expiry", async () => {
  const server = await startJetStream();
  const [nc1, nc2] = await Promise.all([1, 2].map(() => connect({ servers: server.url })));
  try {
    const a = await Leases.open({ nc: nc1, holder: "a", ttlMs: 300 });
    const b = await Leases.open({ nc: nc2, holder: "b", ttlMs: 300 });
    // Both race for a free lease: exactly one gets it.
    const got = await Promise.all([a.acquire("op"), b.acquire("op").catch(() => false)]);
    assert.equal(got.filter(Boolean).length, 1);
    const [holder, other] = got[0] ? [a, b] : [b, a];
    assert.equal(holder.holds("op"), true);
    // A live lease of another node: LEASE_HELD.
    await assert.rejects(
      other.acquire("op"),
      (e: unknown) => e instanceof BusError && e.code === "LEASE_HELD",
    );
    assert.equal(await holder.acquire("op"), true);
    // The holder stops renewing (it died): once expired, the other takes over...
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await other.acquire("op"), true);
    assert.equal((await other.current("op"))?.node, other.holder);
    // ...and the old holder's next renewal fails: it learns it lost the lease.
    assert.equal(await holder.acquire("op"), false);
    assert.equal(holder.holds("op"), false);
    await other.release("op");
    assert.equal(await other.current("op"), null);
    assert.equal(await holder.acquire("op"), true);
  } finally {
    await nc1.close();
    await nc2.close();
    await server.stop();
  }
});
