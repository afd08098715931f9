/**
 * Post-quantum sealing end to end: alice seals for bob with bob's public key, the node
 * routes (and stores) the envelope, bob opens it. A guard installed on the node's Spine
 * records every payload the node handles; none may contain the plaintext.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
import { ArqonClient } from "../runtime/client/mod.ts";
import { generateSealKeyPair, isSealed, open, seal } from "../runtime/identity/mod.ts";
import type { IPulse } from "../runtime/protocol/mod.ts";

const MARKER = "PLAINTEXT-MARKER-5eal-7d1b";

Deno.test("sealed payloads cross the node; the node never sees the plaintext", async () => {
  const node = await startNode({ port: 0, log: "quiet", memory: true });
  const seenByNode: Uint8Array[] = [];
  node.spine.setGuard({
    inspect(pulse) {
      seenByNode.push(pulse.payload ?? new Uint8Array(0));
      return { allow: true };
    },
  });
  const bob = generateSealKeyPair();
  const alice = await ArqonClient.connect(node.wsUrl, { name: "alice", reconnect: false });
  const bobClient = await ArqonClient.connect(node.wsUrl, { name: "bob", reconnect: false });
  try {
    const received: IPulse[] = [];
    const sub = bobClient.subscribe("dm.bob", { onPulse: (p) => received.push(p) });
    await sub.ready;
    const topic = new TextEncoder().encode("dm.bob");
    const messages = [0, 1, 2].map((i) => `${MARKER} message ${i}`);
    for (const m of messages) {
      await alice.publish("dm.bob", await seal(bob.publicKey, new TextEncoder().encode(m), topic));
    }
    const deadline = Date.now() + 5000;
    while (received.length < messages.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(received.length, messages.length);
    const opened = await Promise.all(
      received.map(async (p) => new TextDecoder().decode(await open(bob, p.payload!, topic))),
    );
    assert.deepEqual(opened, messages);

    assert.equal(seenByNode.length, messages.length);
    for (const payload of seenByNode) {
      assert.ok(isSealed(payload));
      assert.ok(!new TextDecoder("latin1").decode(payload).includes("PLAINTEXT-MARKER"));
    }
    // The delivered envelopes are the very bytes the node handled: it added nothing readable.
    assert.deepEqual(received.map((p) => p.payload), seenByNode);
  } finally {
    await alice.close();
    await bobClient.close();
    await node.shutdown();
  }
});
