/**
 * Our TypeScript client over the raw TCP transport: `tcp://` and `tls://` URLs (with a
 * private CA through `caCerts`), publish with acks, subscriptions, request/reply and
 * history, and pulses crossing to and from a WebSocket client in order.
 */
import assert from "node:assert/strict";
import { ArqonClient, type BusError, type IPulse } from "../mod.ts";
import { withNode } from "./support/node.ts";
import { createTestPki } from "./security_tls_fixture.ts";

const text = (p: IPulse) => new TextDecoder().decode(p.payload!);

async function exercise(url: string, wsUrl: string, caCerts?: string[]): Promise<void> {
  const a = await ArqonClient.connect(url, { name: "tcp-a", caCerts, reconnect: false });
  const b = await ArqonClient.connect(url, { name: "tcp-b", caCerts, reconnect: false });
  const w = await ArqonClient.connect(wsUrl, { name: "ws-c", reconnect: false });
  try {
    assert.ok(a.sessionId !== "");
    const got: string[] = [];
    const fromWs: string[] = [];
    const sub = b.subscribe("orders.>", {
      onPulse: (p) => (p.producerId === "ws-c" ? fromWs : got).push(text(p)),
    });
    const wsGot: string[] = [];
    const wsSub = w.subscribe("orders.>", { onPulse: (p) => wsGot.push(text(p)) });
    await sub.ready;
    await wsSub.ready;
    const n = 2000;
    const acks = await Promise.all(
      Array.from({ length: n }, (_, i) => a.publish("orders.tcp", `o${i}`)),
    );
    assert.deepEqual(acks.map((k) => k!.sequence), acks.map((_, i) => i + 1), "gapless acks");
    for (let i = 0; i < 10; i++) w.publish("orders.ws", `w${i}`, { ack: "none" });
    await w.flush();
    const deadline = Date.now() + 10_000;
    while (
      (got.length < n || fromWs.length < 10 || wsGot.length < n + 10) && Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(got, acks.map((_, i) => `o${i}`), "TCP to TCP in order");
    assert.deepEqual(fromWs, Array.from({ length: 10 }, (_, i) => `w${i}`), "WS to TCP in order");
    assert.equal(wsGot.length, n + 10, "TCP to WS");

    const svc = b.subscribe("svc.upper", { onPulse: (p) => b.reply(p, text(p).toUpperCase()) });
    await svc.ready;
    assert.equal(text(await a.request("svc.upper", "over tcp")), "OVER TCP");
    await assert.rejects(a.request("svc.none", "x"), (e: BusError) => e.code === "NO_RESPONDERS");

    const kept = await Promise.all(
      [1, 2, 3].map((i) => a.publish("h.n", `h${i}`, { reality: "h", ack: "durable" })),
    );
    assert.deepEqual(kept.map((k) => k!.sequence), [1, 2, 3]);
    const stored = await a.history({ reality: "h", fromSequence: 2 });
    assert.deepEqual(stored.map(text), ["h2", "h3"], "history over TCP");
  } finally {
    await a.close();
    await b.close();
    await w.close();
  }
}

Deno.test("client over tcp://: acks, order, request/reply, history, interop with WebSocket", async () => {
  await withNode(async (node) => {
    assert.match(node.tcpUrl!, /^tcp:\/\//);
    node.store.createReality("h", { retention: [{ pattern: ">" }] });
    await exercise(node.tcpUrl!, node.wsUrl);
  }, { tcpPort: 0, memory: true });
});

Deno.test({
  name: "client over tls:// with a private CA (caCerts); an untrusted certificate is refused",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const pki = await createTestPki();
    try {
      await withNode(async (node) => {
        const url = `tls://localhost:${node.tcpPort}`;
        await assert.rejects(ArqonClient.connect(url, { reconnect: false }));
        const client = await ArqonClient.connect(url, { caCerts: [pki.caCert], reconnect: false });
        const got: string[] = [];
        const sub = client.subscribe("t.>", { onPulse: (p) => got.push(text(p)) });
        await sub.ready;
        const acks = await Promise.all([1, 2, 3].map((i) => client.publish("t.x", `s${i}`)));
        assert.deepEqual(acks.map((k) => k!.sequence), [1, 2, 3]);
        while (got.length < 3) await new Promise((r) => setTimeout(r, 5));
        assert.deepEqual(got, ["s1", "s2", "s3"]);
        await client.close();
      }, {
        tcpPort: 0,
        memory: true,
        tlsCert: `${pki.dir}/leaf.pem`,
        tlsKey: `${pki.dir}/leaf.key`,
      });
    } finally {
      await pki.remove();
    }
  },
});
