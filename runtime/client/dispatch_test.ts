/** Routing of inbound frames, without a socket. */
import assert from "node:assert/strict";
import { type BusError, decodeFrame, ErrorCode, type IPulse } from "../protocol/mod.ts";
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
