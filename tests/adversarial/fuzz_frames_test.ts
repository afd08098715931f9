/**
 * The short, fixed-seed version of the soak's fuzz scenario: mutated protobuf and JSON
 * frames, random WebSocket frame headers and random HTTP requests. The node survives,
 * answers every error with a typed code and stays within its RSS ceiling.
 */
import assert from "node:assert/strict";
import { fuzzScenario } from "./scenarios/fuzz.ts";

Deno.test({
  name: "fuzz: 2,000 mutated frames and requests, seed 0x5eed: no crash, every error typed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const result = await fuzzScenario({ seed: 0x5eed, cases: 2000, seconds: 25 });
    console.log(`  ${result.notes.join("; ")}`);
    assert.deepEqual(result.violations, []);
    assert.ok(result.notes.some((n) => n.endsWith(" 2000 cases")) || result.seconds >= 25);
    assert.ok((result.errors.INVALID_FRAME ?? 0) > 0, "mutations were refused as invalid frames");
  },
});
