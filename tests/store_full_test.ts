/**
 * A full store (`--max-store-bytes`, SQLite's page cap standing in for a full disk):
 * durable publishes fail with `STORAGE_FAILED`, the node stays up and serves, and
 * publishing works again once retention frees space.
 */
import assert from "node:assert/strict";
import { ArqonClient, BusError, startNode } from "../mod.ts";

Deno.test("store full: durable publishes fail with STORAGE_FAILED, the node stays up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-full-" });
  const node = await startNode({ port: 0, dataDir: dir, log: "quiet", maxStoreBytes: 256 * 1024 });
  const client = await ArqonClient.connect(node.wsUrl, { name: "filler" });
  try {
    node.store.createReality("full", { retention: [{ pattern: ">" }] });
    const payload = new Uint8Array(2048);
    let failure: unknown;
    let acked = 0;
    for (let i = 0; i < 1000 && !failure; i++) {
      try {
        await client.publish("fill.data", payload, { reality: "full", ack: "durable" });
        acked++;
      } catch (error) {
        failure = error;
      }
    }
    assert.ok(failure instanceof BusError, `expected a BusError, got ${failure}`);
    assert.equal((failure as BusError).code, "STORAGE_FAILED");
    assert.ok(acked > 10);

    // Still up: health, HTTP errors typed, history readable, acked pulses all there.
    const health = await fetch(`${node.url}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    const http = await fetch(`${node.url}/v1/realities/full/topics/fill.data?ack=durable`, {
      method: "POST",
      body: payload,
    });
    assert.equal(http.status, 507);
    assert.equal((await http.json()).error.code, "STORAGE_FAILED");
    const stored = await client.history({ reality: "full" });
    assert.equal(stored.length, acked);

    // Retention frees pages; durable publishes succeed again.
    node.store.updateReality("full", { retention: [{ pattern: ">", maxPulses: 5 }] });
    const ack = await client.publish("fill.data", payload, { reality: "full", ack: "durable" });
    const after = await client.history({ reality: "full" });
    assert.equal(after.at(-1)?.sequence, ack!.sequence);
    assert.ok(node.store.stats().commitFailures >= 1);
  } finally {
    await client.close();
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
