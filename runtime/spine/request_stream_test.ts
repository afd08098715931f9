/** Streamed request/reply on a Spine (no sockets): replies in order, marks, bounds, aborts. */
import assert from "node:assert/strict";
import { NodeMetrics } from "../telemetry/mod.ts";
import { BusError, type IPulse } from "../protocol/mod.ts";
import {
  isFinalReply,
  replyError,
  requestStream,
  Spine,
  type Subscription,
  type SubscriptionOwner,
} from "./mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A responder that hands each request to `answer` as it is routed. */
class Responder implements SubscriptionOwner {
  constructor(readonly answer: (request: IPulse) => void) {}
  wake(sub: Subscription): void {
    for (const s of sub.take(sub.queued)) this.answer(s.pulse);
  }
  overflowed(): void {}
}

function setup(answer: (spine: Spine, request: IPulse) => void): Spine {
  const spine = new Spine({
    metrics: new NodeMetrics(),
    queue: { maxMessages: 1024, maxBytes: 1 << 20, overflow: "drop-oldest" },
  });
  spine.subscribe(new Responder((r) => queueMicrotask(() => answer(spine, r))), {
    id: 1,
    pattern: "job.run",
  });
  return spine;
}

function reply(spine: Spine, request: IPulse, text: string, headers: Record<string, string> = {}) {
  return spine.publish(
    { topic: request.replyTo!, realityId: request.realityId, payload: enc.encode(text), headers },
    "worker",
  );
}

const LIMITS = { timeoutMs: 1000, maxReplies: 100, maxBytes: 1 << 20 };

Deno.test("reply marks: more is non-final, anything else final; arqon-error is a typed error", () => {
  assert.equal(isFinalReply({ headers: { "arqon-reply": "more" } }), false);
  assert.equal(isFinalReply({ headers: { "arqon-reply": "final" } }), true);
  assert.equal(isFinalReply({}), true);
  assert.equal(replyError({}), undefined);
  const e = replyError({
    headers: { "arqon-error": "POLICY_DENIED" },
    payload: enc.encode('{"error":{"code":"X","message":"too hot"}}'),
  })!;
  assert.deepEqual([e.code, e.message], ["POLICY_DENIED", "too hot"]);
  const odd = replyError({ headers: { "arqon-error": "UNSPECIFIED" }, payload: enc.encode("x") })!;
  assert.equal(odd.code, "INTERNAL");
  const long = replyError({
    headers: { "arqon-error": "INTERNAL" },
    payload: enc.encode("y".repeat(5000)),
  })!;
  assert.ok(long.message.length <= 1025);
  const bad = replyError({
    headers: { "arqon-error": "INTERNAL" },
    payload: new Uint8Array([0xff]),
  })!;
  assert.match(bad.message, /not UTF-8/);
});

Deno.test("requestStream: every reply in order until the final one; later replies find no inbox", async () => {
  let inbox = "";
  const spine = setup(async (s, r) => {
    inbox = r.replyTo!;
    for (let i = 1; i <= 3; i++) await reply(s, r, `p${i}`, { "arqon-reply": "more" });
    await reply(s, r, "end");
  });
  const got: [string, boolean][] = [];
  await requestStream(
    spine,
    { topic: "job.run" },
    "me",
    LIMITS,
    (p, final) => got.push([dec.decode(p.payload!), final]),
  );
  assert.deepEqual(got, [["p1", false], ["p2", false], ["p3", false], ["end", true]]);
  assert.equal(spine.inboxes.responders(inbox), undefined, "closed");
  assert.equal(spine.inboxes.size, 0);
});

Deno.test("requestStream: bounds, idle timeout, error replies and abort each end it typed", async () => {
  const flood = setup(async (s, r) => {
    for (let i = 0; i < 10; i++) await reply(s, r, "xxxx", { "arqon-reply": "more" });
  });
  const hits: string[] = [];
  const n = (limits: Partial<typeof LIMITS>) =>
    requestStream(flood, { topic: "job.run" }, "me", {
      ...LIMITS,
      ...limits,
      onLimit: (w) => hits.push(w),
    }, () => {});
  await assert.rejects(n({ maxReplies: 4 }), (e: BusError) => e.code === "QUOTA_EXCEEDED");
  await assert.rejects(n({ maxBytes: 10 }), /limit of 10 bytes/);
  assert.deepEqual(hits, ["stream_max_replies", "stream_max_bytes"]);
  await assert.rejects(n({ timeoutMs: 50 }), (e: BusError) => e.code === "TIMEOUT");

  const failing = setup((s, r) => reply(s, r, "nope", { "arqon-error": "INVALID_ARGUMENT" }));
  await assert.rejects(
    requestStream(failing, { topic: "job.run" }, "me", LIMITS, () => {}),
    (e: BusError) => e.code === "INVALID_ARGUMENT" && e.message === "nope",
  );

  const silent = setup(() => {});
  const abort = new AbortController();
  const pending = requestStream(silent, { topic: "job.run" }, "me", {
    ...LIMITS,
    signal: abort.signal,
  }, () => {});
  abort.abort(new BusError("UNSPECIFIED", "gone"));
  await assert.rejects(pending, /gone/);
  assert.equal(silent.inboxes.size, 0);
  await assert.rejects(
    requestStream(silent, { topic: "nobody.home" }, "me", LIMITS, () => {}),
    (e: BusError) => e.code === "NO_RESPONDERS",
  );
  for (const s of [flood, failing, silent]) assert.equal(s.inboxes.size, 0, "no inbox left open");
});
