/** Open calls by correlation id, without a socket. */
import assert from "node:assert/strict";
import { BusError } from "../protocol/mod.ts";
import { PendingCalls } from "./pending.ts";
import { ClientSubscription } from "./subscription.ts";

const noLink = { grant: () => {}, unsubscribe: () => {} };

Deno.test("pending: ids are shared by every kind of call and increase", () => {
  const p = new PendingCalls();
  assert.deepEqual([p.nextId(), p.nextId(), p.nextId()], [1, 2, 3]);
});

Deno.test("pending: an ack settles its publish once; unknown acks are ignored", async () => {
  const p = new PendingCalls();
  const id = p.nextId();
  const acked = p.ack(id);
  p.settleAck({ correlationId: 99, id: "x", sequence: 1, realityId: "default" });
  p.settleAck({ correlationId: id, id: "u7", sequence: 42, realityId: "lab" });
  assert.deepEqual(await acked, { id: "u7", sequence: 42, reality: "lab" });
  assert.equal(p.fail(id, new BusError("INTERNAL", "late")), false);
});

Deno.test("pending: history chunks accumulate until done", async () => {
  const p = new PendingCalls();
  const id = p.nextId();
  const read = p.history(id);
  p.historyChunk({ correlationId: id, pulses: [{ topic: "a", sequence: 1 }] });
  p.historyChunk({ correlationId: id, pulses: [{ topic: "b", sequence: 2 }], done: true });
  assert.deepEqual((await read).map((x) => x.topic), ["a", "b"]);
});

Deno.test("pending: an error answers a publish, request or history read by id", async () => {
  const p = new PendingCalls();
  const [a, r, h] = [p.nextId(), p.nextId(), p.nextId()];
  const calls = [p.ack(a), p.reply(r), p.history(h)];
  for (const id of [a, r, h]) assert.equal(p.fail(id, new BusError("TIMEOUT", `${id}`)), true);
  for (const [i, call] of calls.entries()) {
    await assert.rejects(call, (e: BusError) => e.code === "TIMEOUT" && e.message === `${i + 1}`);
  }
});

Deno.test("pending: a lost connection fails calls but keeps pings and subscribes", async () => {
  const p = new PendingCalls();
  const ack = p.ack(p.nextId());
  const reply = p.reply(p.nextId());
  const nonce = p.nextId();
  const pong = p.pong(nonce);
  const sub = new ClientSubscription(1, "a.>", {}, noLink);
  const subscribeId = p.nextId();
  p.subscribing(subscribeId, sub);
  p.failCalls(new BusError("INTERNAL", "connection lost"));
  await assert.rejects(ack, /connection lost/);
  await assert.rejects(reply, /connection lost/);
  p.settlePong(nonce);
  assert.equal(await pong, undefined);
  assert.equal(p.subscribed(subscribeId), sub);
  assert.equal(p.subscribed(subscribeId), undefined);
});
