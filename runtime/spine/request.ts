/**
 * Request/reply over the Spine, shared by the WebSocket and HTTP APIs: the request is
 * published with a `reply_to` inbox topic, and the first pulse published to that inbox
 * is the answer.
 *
 * An inbox is a capability, not a topic like others: its name carries 128 random bits (no
 * one guesses it), wildcard subscriptions never match it (see `trie.ts`), and the Spine
 * records which subscribers a request was delivered to, so that the edge lets only those
 * responders publish the reply (see `inbox.ts`).
 * @module
 */
import { BusError, type IAnycastTarget, type IPulse } from "../protocol/mod.ts";
import type { Spine } from "./spine.ts";
import { DEFAULT_REALITY } from "./spine_options.ts";
import type { Subscription, SubscriptionOwner } from "./subscription.ts";
import { topicError } from "../protocol/mod.ts";
import { replyError } from "./reply_marks.ts";

/** Default request timeout when the caller gives none. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** Upper bound on request timeouts. */
export const MAX_REQUEST_TIMEOUT_MS = 300_000;

/** Receives the first delivery on an inbox subscription. */
class InboxOwner implements SubscriptionOwner {
  resolve: (p: IPulse) => void = () => {};
  wake(sub: Subscription): void {
    const [first] = sub.take(1);
    if (first) this.resolve(first.pulse);
  }
  overflowed(): void {}
}

/**
 * Publishes `pulse` as a request and resolves with the first reply (final or not: see
 * `request_stream.ts` for streams). Rejects with the typed error of an `arqon-error` reply,
 * `NO_RESPONDERS` when nobody subscribes to the topic, `TIMEOUT` when no reply comes.
 * `signal` ends the wait early (the requester's connection closed): the inbox is released
 * at once and the promise rejects with the signal's reason.
 */
export async function requestReply(
  spine: Spine,
  pulse: IPulse,
  producerId: string,
  timeoutMs: number,
  signal?: AbortSignal,
  anycast?: IAnycastTarget | null,
): Promise<IPulse> {
  signal?.throwIfAborted();
  const topic = pulse.topic ?? "";
  const err = topicError(topic);
  if (err) throw new BusError("INVALID_TOPIC", err);
  const realityId = pulse.realityId || DEFAULT_REALITY;
  if (
    !spine.hasSubscribers(realityId, topic) && !(await spine.hasResponders(realityId, topic))
  ) {
    throw new BusError("NO_RESPONDERS", `no subscriber for '${topic}' in reality '${realityId}'`);
  }
  const timeout = Math.min(timeoutMs || DEFAULT_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS);
  const inbox = spine.inboxes.open();
  const owner = new InboxOwner();
  const reply = new Promise<IPulse>((resolve) => owner.resolve = resolve);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sub: Subscription | undefined;
  try {
    sub = spine.subscribe(owner, {
      id: 0,
      realityId,
      pattern: inbox,
      maxMessages: 1,
      overflow: "drop-new",
    });
    await spine.publish(
      { ...pulse, realityId, replyTo: inbox },
      producerId,
      undefined,
      undefined,
      anycast,
    );
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new BusError("TIMEOUT", `no reply within ${timeout} ms`)),
        timeout,
      );
      // Left registered: once settled, a late abort is a no-op, and an HTTP request's
      // signal (Deno.serve) also aborts after a successful response.
      const cancel = () => reject(signal!.reason);
      if (signal?.aborted) cancel();
      else signal?.addEventListener("abort", cancel, { once: true });
    });
    const answer = await Promise.race([reply, expired]);
    // A responder's `arqon-error` reply is a typed error for the requester.
    const failure = replyError(answer);
    if (failure) throw failure;
    return answer;
  } finally {
    clearTimeout(timer);
    spine.inboxes.close(inbox);
    if (sub) spine.unsubscribe(sub);
  }
}
