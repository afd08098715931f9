/**
 * Crash safety end to end: a node runs as a child process, several WebSocket clients
 * publish with durable acks, the node is SIGKILLed at random moments and restarted on the
 * same data directory. After every restart each acknowledged id must be stored exactly
 * once, with the sequence its ack reported, and the sequences must be contiguous.
 * The scenario itself is shared with `deno task soak` (tests/adversarial/scenarios/kills.ts).
 *
 * `ARQON_CRASH_CYCLES` raises the number of cycles for a soak run (default 20).
 */
import assert from "node:assert/strict";
import { killScenario } from "./adversarial/scenarios/kills.ts";

const CYCLES = Number(Deno.env.get("ARQON_CRASH_CYCLES") ?? 20);

Deno.test({
  name: "crash: durable acks survive repeated SIGKILL, exactly once, contiguous",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const result = await killScenario({ cycles: CYCLES, ceilingMb: 1024 });
    assert.deepEqual(result.violations, []);
    assert.equal(result.lost, 0);
    console.log(`${CYCLES} SIGKILL cycles: ${result.acked} acked (${result.notes.join("; ")})`);
  },
});
