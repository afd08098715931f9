import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { NatsCluster } from "../../tests/support/nats_cluster.ts";
import { connectCluster } from "./connect.ts";
import { connectDenoTcp, DenoTcpTransport } from "./deno_transport.ts";

Deno.test("Deno TCP transport: every message intact and in order, large ones across reads", async () => {
  const nats = await NatsCluster.start(1);
  try {
    const nc = await connectDenoTcp({ servers: nats.urls });
    // The peer on node:net's transport: both ends of the wire are real NATS clients.
    const peer = await connect({ servers: nats.urls });
    try {
      const got: Uint8Array[] = [];
      const all = Promise.withResolvers<void>();
      const sizes = [0, 1, 1024, 300_000, 7, 64 * 1024 + 3, 900_000];
      const count = 2_000;
      peer.subscribe("t.>", {
        callback: (_err, m) => {
          got.push(m.data);
          if (got.length === count + sizes.length) all.resolve();
        },
      });
      await peer.flush();
      // Many small ones at once (nats.js coalesces them while a write is under way), then
      // sizes that span many socket reads.
      for (let i = 0; i < count; i++) nc.publish("t.small", new TextEncoder().encode(`m${i}`));
      for (const size of sizes) {
        nc.publish("t.big", new Uint8Array(size).map((_, j) => (j * 31 + size) & 0xff));
      }
      await all.promise;
      for (let i = 0; i < count; i++) assert.equal(new TextDecoder().decode(got[i]), `m${i}`);
      for (const [k, size] of sizes.entries()) {
        const m = got[count + k];
        assert.equal(m.length, size);
        for (let j = 0; j < size; j += 4099) assert.equal(m[j], (j * 31 + size) & 0xff);
      }
      // And the other way: a request to the peer and its reply, through this transport.
      peer.subscribe("echo", {
        callback: (_err, m) => {
          m.respond(m.data);
        },
      });
      await peer.flush();
      const reply = await nc.request("echo", new Uint8Array(500_000).fill(9), { timeout: 5_000 });
      assert.equal(reply.data.length, 500_000);
      assert.equal(reply.data[499_999], 9);
    } finally {
      await nc.close();
      await peer.close();
    }
    assert.equal(nc.isClosed(), true);
  } finally {
    await nats.close();
  }
});

Deno.test("Deno TCP transport: reconnects by itself after its server restarts", async () => {
  const nats = await NatsCluster.start(1);
  try {
    const nc = await connectDenoTcp({
      servers: nats.urls,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    try {
      const seen: string[] = [];
      (async () => {
        for await (const s of nc.status()) seen.push(s.type);
      })();
      const sub = nc.subscribe("r");
      const echo = (async () => {
        for await (const m of sub) m.respond(m.data);
      })();
      assert.equal((await nc.request("r", "a", { timeout: 2_000 })).string(), "a");
      await nats.servers[0].kill();
      nats.servers[0].start();
      await nats.waitHealthy();
      for (let i = 0; i < 100 && !seen.includes("reconnect"); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(seen.includes("disconnect"), `status: ${seen}`);
      assert.ok(seen.includes("reconnect"), `status: ${seen}`);
      // The subscription was made again on the new socket.
      assert.equal((await nc.request("r", "b", { timeout: 2_000 })).string(), "b");
      sub.unsubscribe();
      await echo;
    } finally {
      await nc.close();
    }
  } finally {
    await nats.close();
  }
});

Deno.test("connectCluster: Deno TCP without TLS files; node:net for all once TLS files were used", async () => {
  const nats = await NatsCluster.start(1);
  // The socket under a connection (nats.js keeps it on its protocol handler).
  const socketOf = (c: { nc: unknown }) =>
    (c.nc as { protocol: { transport: unknown } }).protocol.transport;
  try {
    const plain = await connectCluster({ cluster: nats.urls });
    assert.ok(socketOf(plain) instanceof DenoTcpTransport);
    await plain.close();
    // TLS files (a CA) against a server without TLS: refused, but from now on this process's
    // connections stay on node:net, whose TLS a reconnect of such a connection needs.
    const ca = await Deno.makeTempFile({ suffix: ".pem" });
    try {
      await assert.rejects(() => connectCluster({ cluster: nats.urls, clusterTlsCa: ca }));
    } finally {
      await Deno.remove(ca);
    }
    const after = await connectCluster({ cluster: nats.urls });
    assert.ok(!(socketOf(after) instanceof DenoTcpTransport));
    assert.equal(after.connected, true);
    await after.close();
  } finally {
    await nats.close();
  }
});
