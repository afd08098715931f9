import assert from "node:assert/strict";
import { MemoryTransport } from "./mod.ts";

Deno.test("memory transport: keeps, counts and buffers what is sent", async () => {
  const seen: (Uint8Array | string)[] = [];
  const t = new MemoryTransport({ kind: "test", onSend: (m) => seen.push(m) });
  assert.equal(t.kind, "test");
  t.send("abc");
  t.send(new Uint8Array(4));
  assert.equal(t.messages, 2);
  assert.equal(t.bytes, 7);
  assert.equal(t.bufferedAmount(), 0);
  assert.deepEqual(t.take(), ["abc", new Uint8Array(4)]);
  assert.deepEqual(t.take(), []);
  assert.equal(seen.length, 2);
  t.pause();
  t.send(new Uint8Array(10));
  assert.equal(t.bufferedAmount(), 10);
  let drained = false;
  const waiting = t.drained(5).then(() => (drained = true));
  await Promise.resolve();
  assert.equal(drained, false);
  t.resume();
  await waiting;
  assert.equal(t.bufferedAmount(), 0);
  t.close(1008, "bye");
  t.send("late");
  assert.deepEqual(t.closedWith, { code: 1008, reason: "bye" });
  assert.equal(t.messages, 3, "writes after close are dropped");
});

Deno.test("memory transport: without keep only counts", () => {
  const t = new MemoryTransport({ keep: false });
  t.send(new Uint8Array(3));
  assert.deepEqual(t.sent, []);
  assert.equal(t.bytes, 3);
});
