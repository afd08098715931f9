/** The client's streamed replies by correlation id, without a socket. */
import assert from "node:assert/strict";
import { BusError } from "../protocol/mod.ts";
import { PendingCalls } from "./pending.ts";

Deno.test("reply stream: replies in order until final; others' replies and late ones dropped", async () => {
  const p = new PendingCalls();
  const id = p.nextId();
  const stream = p.stream(id);
  p.settleReply(id, { topic: "a" }, false);
  p.settleReply(id + 1, { topic: "forged" }, true); // no call waits for it
  p.settleReply(id, { topic: "b" }, true);
  p.settleReply(id, { topic: "late" }, false);
  const got: string[] = [];
  for await (const r of stream) got.push(r.topic!);
  assert.deepEqual(got, ["a", "b"]);
  assert.equal(p.fail(id, new BusError("INTERNAL", "x")), false, "released after final");
});

Deno.test("reply stream: an error is thrown after the replies already queued; a lost connection too", async () => {
  const p = new PendingCalls();
  const id = p.nextId();
  const stream = p.stream(id);
  p.settleReply(id, { topic: "a" }, false);
  assert.equal(p.fail(id, new BusError("TIMEOUT", "quiet")), true);
  assert.deepEqual(await stream.next(), { value: { topic: "a" }, done: false });
  await assert.rejects(stream.next(), (e: BusError) => e.code === "TIMEOUT");
  assert.equal((await stream.next()).done, true);

  const other = p.stream(p.nextId());
  const waiting = other.next();
  p.failCalls(new BusError("INTERNAL", "connection lost"));
  await assert.rejects(waiting, /connection lost/);
});

Deno.test("reply stream: return() (a break) forgets the request", async () => {
  const p = new PendingCalls();
  const id = p.nextId();
  const stream = p.stream(id);
  p.settleReply(id, { topic: "a" }, false);
  for await (const _ of stream) break;
  assert.equal(stream.ended, true);
  assert.equal(p.fail(id, new BusError("INTERNAL", "x")), false);
});
