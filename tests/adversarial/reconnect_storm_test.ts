/**
 * The short version of the soak's reconnect storm: thousands of connections dropped
 * abruptly (before the upgrade, before hello, after hello, after a subscribe, half-open);
 * afterwards the node's fds and RSS are back near their baseline and it still serves.
 */
import assert from "node:assert/strict";
import { reconnectStorm } from "./scenarios/reconnect_storm.ts";

Deno.test({
  name: "reconnect storm: fds and RSS come back near baseline",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const result = await reconnectStorm({ seconds: 4, held: 100 });
    console.log(`  ${result.notes.join("; ")}`);
    assert.deepEqual(result.violations, []);
  },
});
