/**
 * A redaction is bounded like a publish (issue 11, section 4): a policy that grows a 1-byte
 * pulse to 4 MiB, beyond the node's `--max-frame-bytes` (1 MiB by default), has the pulse
 * denied with a typed error, counted, and nothing delivered; a redaction within the limit
 * still reaches subscribers.
 */
import assert from "node:assert/strict";
import { ArqonClient, BusError } from "../../mod.ts";
import { testPolicyComponent } from "../../casil/build/mod.ts";
import { metric, withNode } from "../support/node.ts";

Deno.test("a redaction growing a pulse beyond max_frame_bytes is denied and counted", async () => {
  await withNode(async (node) => {
    const res = await fetch(`${node.url}/v1/policies/grow?topic=grow.>`, {
      method: "PUT",
      body: await testPolicyComponent("grow_payload"),
    });
    assert.equal(res.status, 201, await res.text());
    const client = await ArqonClient.connect(node.wsUrl, { reconnect: false });
    try {
      const sub = client.subscribe("grow.>");
      await sub.ready;
      let refused: unknown;
      try {
        await client.publish("grow.big", new Uint8Array([1]));
      } catch (e) {
        refused = e;
      }
      assert.ok(refused instanceof BusError, `expected a BusError, got ${refused}`);
      assert.equal(refused.code, "POLICY_DENIED");
      assert.match(
        refused.message,
        /redacted payload of 4194304 bytes exceeds the limit of 1048576 bytes/,
      );
      assert.equal(
        await metric(node, "arqon_policy_denials_total", 'policy="grow",reason="too_large"'),
        1,
      );
      // A redaction within the limit is delivered; the oversized one never was.
      await client.publish("grow.small", new Uint8Array([2]));
      const { value } = await sub.next();
      assert.equal(value!.topic, "grow.small");
      assert.equal(value!.payload!.length, 16);
    } finally {
      await client.close();
    }
  });
});
