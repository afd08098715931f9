import assert from "node:assert/strict";
import { type DrainingSession, shutdownOnce } from "./shutdown.ts";

class FakeSession implements DrainingSession {
  idle = false;
  drained = false;
  closedWith?: number;
  constructor(readonly log: string[], readonly name: string) {}
  startDrain(): void {
    this.drained = true;
    this.log.push(`drain ${this.name}`);
  }
  close(code: number): void {
    this.closedWith = code;
    this.log.push(`close ${this.name}`);
  }
}

Deno.test("shutdown: drain, wait for idle sessions, close them, then the parts in order", async () => {
  const log: string[] = [];
  const a = new FakeSession(log, "a");
  const b = new FakeSession(log, "b");
  let draining = false;
  const shutdown = shutdownOnce({
    sessions: new Set([a, b]),
    graceMs: 5_000,
    beginDrain: () => {
      draining = true;
      log.push("begin");
    },
    closers: [() => log.push("listeners"), async () => {
      await Promise.resolve();
      log.push("store");
    }],
  });
  const done = shutdown();
  assert.equal(shutdown(), done, "a second call shares the first");
  assert.ok(draining);
  setTimeout(() => a.idle = b.idle = true, 30);
  await done;
  assert.deepEqual(log, [
    "begin",
    "drain a",
    "drain b",
    "close a",
    "close b",
    "listeners",
    "store",
  ]);
  assert.equal(a.closedWith, 1001);
});

Deno.test("shutdown: sessions that never drain are closed after the grace period", async () => {
  const log: string[] = [];
  const stuck = new FakeSession(log, "stuck");
  const t0 = Date.now();
  await shutdownOnce({ sessions: new Set([stuck]), graceMs: 50, beginDrain() {}, closers: [] })();
  assert.ok(Date.now() - t0 >= 45);
  assert.equal(stuck.closedWith, 1001);
});
