/** Routing of inbound frames, without a socket. */
import assert from "node:assert/strict";
import {
  type BusError,
  decodeFrame,
  encodeFrame,
  encodePulse,
  ErrorCode,
  type IPulse,
  PulseView,
  scanFrames,
} from "../protocol/mod.ts";
import { FrameDispatch } from "./dispatch.ts";
import { PendingCalls } from "./pending.ts";
import { ClientSubscription } from "./subscription.ts";

function setup() {
  const subs = new Map<number, ClientSubscription>();
  const pending = new PendingCalls();
  const sent: Uint8Array[] = [];
  const errors: BusError[] = [];
  const dispatch = new FrameDispatch(subs, pending, (f) => sent.push(f), {
    onError: (e) => errors.push(e),
  });
  const got: IPulse[] = [];
  const subErrors: BusError[] = [];
  const sub = new ClientSubscription(5, "a.>", {
    onPulse: (p) => got.push(p),
    onError: (e) => subErrors.push(e),
  }, { grant: () => {}, unsubscribe: () => {} });
  subs.set(sub.id, sub);
  return { subs, pending, sent, errors, dispatch, sub, got, subErrors };
}

Deno.test("dispatch: deliveries (also inside a batch) go to their subscription", () => {
  const { dispatch, got } = setup();
  dispatch.handle({ kind: "deliver", deliver: { subscriptionId: 5, pulse: { topic: "a.1" } } });
  dispatch.handle({
    kind: "batch",
    batch: {
      frames: [
        { kind: "deliver", deliver: { subscriptionId: 5, pulse: { topic: "a.2" } } },
        { kind: "deliver", deliver: { subscriptionId: 6, pulse: { topic: "lost" } } },
      ],
    },
  });
  assert.deepEqual(got.map((p) => p.topic), ["a.1", "a.2"]);
});

Deno.test("dispatch: a ping is answered with a pong of the same nonce", () => {
  const { dispatch, sent } = setup();
  dispatch.handle({ kind: "ping", ping: { nonce: 77 } });
  const pong = decodeFrame(sent[0]);
  assert.equal(pong.kind, "pong");
  assert.equal(pong.pong!.nonce, 77);
});

Deno.test("dispatch: an error goes to its call, else its subscription, else onError", async () => {
  const { dispatch, pending, sub, errors, subErrors } = setup();
  const id = pending.nextId();
  const reply = pending.reply(id);
  const code = ErrorCode.NO_RESPONDERS;
  dispatch.handle({ kind: "error", error: { code, message: "none", correlationId: id } });
  await assert.rejects(reply, (e: BusError) => e.code === "NO_RESPONDERS");
  dispatch.handle({
    kind: "error",
    error: { code, message: "drops", subscriptionId: 5, dropped: 3 },
  });
  assert.equal(sub.dropped, 3);
  assert.equal(subErrors.length, 1);
  dispatch.handle({ kind: "error", error: { code, message: "other" } });
  assert.deepEqual(errors.map((e) => e.message), ["other"]);
});

Deno.test("dispatch: a refused subscribe rejects ready and forgets the subscription", async () => {
  const { dispatch, pending, subs, sub } = setup();
  const id = pending.nextId();
  pending.subscribing(id, sub);
  const code = ErrorCode.INVALID_TOPIC;
  dispatch.handle({ kind: "error", error: { code, message: "bad", correlationId: id } });
  await assert.rejects(sub.ready, /bad/);
  assert.equal(subs.has(5), false);
  assert.equal(sub.closed, true);
});

Deno.test("dispatch: history chunks arrive as lazy views; a broken pulse fails the read", async () => {
  const { dispatch, pending, errors } = setup();
  const id = pending.nextId();
  const read = pending.history(id);
  const pulses = [{ topic: "h.1", sequence: 1 }, { topic: "h.2", sequence: 2 }];
  const frame = (done: boolean, p: IPulse[]) =>
    encodeFrame({ historyChunk: { correlationId: id, pulses: p, done } });
  scanFrames(frame(false, pulses.slice(0, 1)), dispatch.visitor);
  scanFrames(frame(true, pulses.slice(1)), dispatch.visitor);
  const got = await read;
  assert.ok(got.every((p) => p instanceof PulseView));
  assert.deepEqual(got.map((p) => [p.topic, p.sequence]), [["h.1", 1], ["h.2", 2]]);
  assert.deepEqual((got[1] as PulseView).encoded, encodePulse(pulses[1]));

  // A pulse whose field runs past its end (a length of 0x7f with 1 byte after it).
  const id2 = pending.nextId();
  const broken = pending.history(id2);
  const body = Uint8Array.of(0x08, id2, 0x12, 0x03, 0x1a, 0x7f, 0x61, 0x18, 0x01);
  scanFrames(Uint8Array.of(0xaa, 0x01, body.length, ...body), dispatch.visitor);
  await assert.rejects(broken, (e: BusError) => e.code === "INVALID_FRAME");
  assert.equal(errors.length, 0, "the call got the error, not onError");
});

Deno.test("dispatch: an ack read in place settles its publish with the node's fields", async () => {
  const { dispatch, pending } = setup();
  const id = pending.nextId();
  const acked = pending.ack(id);
  const ack = { correlationId: id, id: "0193a1b2-c3d4-7e5f", sequence: 2 ** 35, realityId: "r1" };
  // Two acks in one batch frame, as the node sends them; the other one waits for nobody.
  const batch = encodeFrame({
    batch: { frames: [{ ack }, { ack: { ...ack, correlationId: id + 100 } }] },
  });
  scanFrames(batch, dispatch.visitor);
  assert.deepEqual(await acked, { id: ack.id, sequence: 2 ** 35, reality: "r1" });
});
