/**
 * Rate limits and quotas end to end: a breach is a typed error (frame or HTTP 429 with
 * JSON) and shows in the node's metrics.
 */
import assert from "node:assert/strict";
import { type ArqonNode, startNode } from "../mod.ts";
import { ArqonClient } from "../runtime/client/mod.ts";
import { BusError } from "../runtime/protocol/mod.ts";
import type { SecurityOptions } from "../runtime/shield/auth/mod.ts";
import { errorCodeName } from "../runtime/protocol/mod.ts";
import { WirePeer } from "./security_wire.ts";

async function withNode(
  options: Partial<SecurityOptions>,
  fn: (node: ArqonNode) => Promise<void>,
): Promise<void> {
  const node = await startNode({ port: 0, log: "quiet", memory: true, ...options });
  try {
    await fn(node);
  } finally {
    await node.shutdown();
  }
}

async function outcomes(publishes: Promise<unknown>[]): Promise<{ ok: number; codes: string[] }> {
  const settled = await Promise.allSettled(publishes);
  const codes: string[] = [];
  let ok = 0;
  for (const s of settled) {
    if (s.status === "fulfilled") ok++;
    else codes.push(s.reason instanceof BusError ? s.reason.code : String(s.reason));
  }
  return { ok, codes };
}

function metric(text: string, pattern: RegExp): number {
  const m = text.match(pattern);
  return m ? Number(m[1]) : 0;
}

Deno.test("per-connection pulse rate: the excess is RATE_LIMITED and counted", async () => {
  await withNode({ ratePulses: 20 }, async (node) => {
    const client = await ArqonClient.connect(node.wsUrl, { reconnect: false });
    try {
      const { ok, codes } = await outcomes(
        Array.from(
          { length: 100 },
          (_, i) => client.publish("load.x", `p${i}`, { reality: "lab" }),
        ),
      );
      // One burst (20) plus whatever refills while the batch is processed.
      assert.ok(ok >= 20 && ok <= 50, `accepted ${ok}`);
      assert.equal(ok + codes.length, 100);
      assert.ok(codes.every((c) => c === "RATE_LIMITED"), codes.join());
      const text = await (await fetch(`${node.url}/metrics`)).text();
      assert.equal(
        metric(
          text,
          /arqon_rate_limited_total\{reality="lab",scope="connection",unit="pulses"\} (\d+)/,
        ),
        codes.length,
      );
    } finally {
      await client.close();
    }
  });
});

Deno.test("per-reality byte rate is shared by connections and answers HTTP 429", async () => {
  await withNode({ realityRateBytes: 1000 }, async (node) => {
    const a = await ArqonClient.connect(node.wsUrl, { reconnect: false });
    const b = await ArqonClient.connect(node.wsUrl, { reconnect: false });
    try {
      const body = "x".repeat(100);
      const { ok, codes } = await outcomes([
        ...Array.from({ length: 15 }, () => a.publish("load.x", body, { reality: "lab" })),
        ...Array.from({ length: 15 }, () => b.publish("load.x", body, { reality: "lab" })),
      ]);
      assert.ok(ok >= 10 && ok <= 25, `accepted ${ok}`);
      assert.ok(codes.length > 0 && codes.every((c) => c === "RATE_LIMITED"));
      // Another reality is not affected.
      assert.ok(await a.publish("load.x", body, { reality: "other" }));
      const res = await fetch(`${node.url}/v1/realities/lab/topics/load.x`, {
        method: "POST",
        // Larger than the whole burst: refused however long the test took so far.
        body: "y".repeat(1500),
      });
      assert.equal(res.status, 429);
      const json = await res.json();
      assert.equal(json.error.code, "RATE_LIMITED");
      assert.match(json.error.message, /reality "lab" over its limit of 1000 bytes\/s/);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

Deno.test("quotas: subscriptions, connections and stored bytes per reality", async () => {
  await withNode(
    { realityMaxSubscriptions: 2, realityMaxConnections: 1, realityMaxStoredBytes: 100 },
    async (node) => {
      const a = await ArqonClient.connect(node.wsUrl, { reconnect: false });
      const b = await ArqonClient.connect(node.wsUrl, { reconnect: false });
      try {
        await a.subscribe("s.one", { reality: "lab" }).ready;
        await a.subscribe("s.two", { reality: "lab" }).ready;
        await assert.rejects(
          a.subscribe("s.three", { reality: "lab" }).ready,
          (e) =>
            e instanceof BusError && e.code === "QUOTA_EXCEEDED" &&
            /subscriptions quota \(2\)/.test(e.message),
        );
        await a.subscribe("s.three", { reality: "elsewhere" }).ready;

        // `a` holds the lab's only connection slot.
        await assert.rejects(
          b.publish("s.one", "hi", { reality: "lab" }),
          (e) =>
            e instanceof BusError && e.code === "QUOTA_EXCEEDED" &&
            /connections quota/.test(e.message),
        );

        await a.publish("s.one", "x".repeat(60), { reality: "lab" });
        await assert.rejects(
          a.publish("s.one", "x".repeat(60), { reality: "lab" }),
          (e) =>
            e instanceof BusError && e.code === "QUOTA_EXCEEDED" && /storedBytes/.test(e.message),
        );
        const text = await (await fetch(`${node.url}/metrics`)).text();
        assert.equal(
          metric(text, /arqon_quota_exceeded_total\{reality="lab",kind="subscriptions"\} (\d+)/),
          1,
        );
        assert.equal(
          metric(text, /arqon_quota_exceeded_total\{reality="lab",kind="connections"\} (\d+)/),
          1,
        );
        assert.equal(
          metric(text, /arqon_quota_usage\{reality="lab",kind="storedBytes"\} (\d+)/),
          60,
        );
      } finally {
        await a.close();
        await b.close();
      }
    },
  );
});

Deno.test("a connection flooding past --rate-kick is closed (1008) and counted", async () => {
  await withNode({ ratePulses: 10, rateKick: 200 }, async (node) => {
    const peer = await WirePeer.open(node.wsUrl);
    const calm = await ArqonClient.connect(node.wsUrl, { reconnect: false });
    try {
      peer.send({ hello: { protocolVersion: 1 } });
      assert.equal((await peer.next()).kind, "welcome");
      const frames = Array.from({ length: 500 }, () => ({
        publish: { correlationId: 0, ack: 0, pulse: { topic: "flood.x", realityId: "lab" } },
      }));
      peer.send({ batch: { frames } });
      const { code, reason } = await peer.closed;
      assert.equal(code, 1008);
      assert.match(reason, /rate limit exceeded: 200 refusals in 1 s/);
      // No error per refused pulse: at most the one RATE_LIMITED notice (the close may
      // overtake it, since the whole batch is refused within one turn).
      const errors = peer.pending.filter((f) => f.kind === "error");
      assert.ok(errors.length <= 1, `${errors.length} error frames`);
      for (const e of errors) assert.equal(errorCodeName(e.error!.code ?? 0), "RATE_LIMITED");
      // Other connections carry on.
      assert.ok(await calm.publish("calm.x", "still here", { reality: "lab" }));
      const text = await (await fetch(`${node.url}/metrics`)).text();
      assert.equal(metric(text, /arqon_kicks_total\{transport="ws",reason="rate"\} (\d+)/), 1);
    } finally {
      await calm.close();
    }
  });
});
