import assert from "node:assert/strict";
import type { StoredPulse } from "../spine/mod.ts";
import { logEntry, openStore } from "../store/mod.ts";
import { replayHistory } from "./history_replay.ts";

Deno.test("replay: pages stop while the target's backlog is full and resume as it drains", async () => {
  const log = openStore({ dataDir: null, defaultRealityConfig: { retention: [{ pattern: ">" }] } });
  try {
    const pulses = [];
    for (let seq = 1; seq <= 100; seq++) {
      pulses.push(logEntry({
        sequence: seq,
        topic: "test.topic",
        realityId: "default",
        timestamp: { wallMs: 1_700_000_000_000 + seq, logical: 0 },
        payload: new Uint8Array(16),
      }));
    }
    // Not awaited: replay must flush pending appends before it reads.
    log.append(pulses);
    const fed: StoredPulse[] = [];
    let delivered = 0;
    let maxBacklog = 0;
    const draining = setInterval(() => (delivered = Math.min(fed.length, delivered + 5)), 1);
    await replayHistory(log, { reality: "default", fromSeq: 11, toSeq: 90 }, {
      feed: (page) => {
        fed.push(...page);
        maxBacklog = Math.max(maxBacklog, fed.length - delivered);
      },
      backlog: () => fed.length - delivered,
      closed: () => false,
    }, { pageSize: 10, maxBacklog: 20 });
    clearInterval(draining);
    assert.deepEqual(fed.map((p) => p.sequence), Array.from({ length: 80 }, (_, i) => i + 11));
    assert.ok(maxBacklog <= 30, `backlog grew to ${maxBacklog}`);
  } finally {
    log.close();
  }
});

Deno.test("replay: an invalid query throws before anything is fed", async () => {
  const log = openStore({ dataDir: null });
  try {
    let fed = 0;
    await assert.rejects(
      replayHistory(log, { reality: "default", pattern: "a..b" }, {
        feed: () => fed++,
        backlog: () => 0,
        closed: () => false,
      }),
      /invalid topic pattern/,
    );
    assert.equal(fed, 0);
  } finally {
    log.close();
  }
});
