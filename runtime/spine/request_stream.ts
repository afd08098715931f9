/**
 * Streamed request/reply: a request whose requester receives every reply until one marked
 * final, instead of only the first (a job reporting its progress). The inbox stays open,
 * so the responders the request reached may keep answering on it; everyone else is still
 * refused by the edge (`shield/reply_guard.ts`).
 *
 * How a reply is read, for plain and streamed requests alike:
 * - header `arqon-reply: more` marks a non-final reply; any other reply is final (a
 *   responder that knows nothing of streams answers once and ends the stream);
 * - header `arqon-error: <CODE>` (an `ErrorCode` name such as `INVALID_ARGUMENT`) turns the
 *   reply into a typed error for the requester, with the payload's text as its message, and
 *   ends the request.
 *
 * Timeout: for a stream it is the longest wait *between* two replies (each reply restarts
 * it), so a long job that keeps reporting is not cut; the stream as a whole is bounded by
 * its number of replies and their bytes (`maxReplies`, `maxBytes`: QUOTA_EXCEEDED).
 * @module
 */
import { BusError, type IPulse } from "../protocol/mod.ts";
import { isFinalReply, replyError } from "./reply_marks.ts";
import { topicError } from "../protocol/mod.ts";
import { DEFAULT_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS } from "./request.ts";
import type { Spine } from "./spine.ts";
import { DEFAULT_REALITY } from "./spine_options.ts";
import type { Subscription, SubscriptionOwner } from "./subscription.ts";

/** Bounds and timing of one streamed request. */
export interface StreamRequestOptions {
  /**
   * Longest wait for the next reply, ms (0: `DEFAULT_REQUEST_TIMEOUT_MS`; at most
   * `MAX_REQUEST_TIMEOUT_MS`).
   * @default {5000}
   */
  readonly timeoutMs: number;
  /** Most replies one stream may carry; the one beyond ends it with QUOTA_EXCEEDED. */
  readonly maxReplies: number;
  /** Most payload bytes one stream may carry; beyond, QUOTA_EXCEEDED. */
  readonly maxBytes: number;
  /** Ends the stream early (the requester left): the inbox is released at once. */
  readonly signal?: AbortSignal;
  /** Told once the request is published (a refusal before it rejects the call instead). */
  readonly onPublished?: () => void;
  /** Told when a bound ends a stream (`max_replies` or `max_bytes`), for the limit metric. */
  readonly onLimit?: (which: "stream_max_replies" | "stream_max_bytes") => void;
}

/** Hands each delivery on the inbox to the stream as it is routed (synchronously). */
class StreamOwner implements SubscriptionOwner {
  onPulse: (p: IPulse) => void = () => {};
  wake(sub: Subscription): void {
    for (const s of sub.take(sub.queued)) this.onPulse(s.pulse);
  }
  overflowed(): void {}
}

/**
 * Publishes `pulse` as a streamed request and hands every reply to `onReply` (with whether
 * it is the final one) in the order the node sequenced them. Resolves after the final
 * reply; rejects with `NO_RESPONDERS`, `TIMEOUT` (no reply within `timeoutMs` of the
 * previous one), `QUOTA_EXCEEDED` (a bound), the typed error of an `arqon-error` reply, or
 * the signal's reason. Replies after the end are refused to their responders (the inbox
 * is closed).
 */
export async function requestStream(
  spine: Spine,
  pulse: IPulse,
  producerId: string,
  options: StreamRequestOptions,
  onReply: (reply: IPulse, final: boolean) => void,
): Promise<void> {
  const signal = options.signal;
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
  const timeout = Math.min(options.timeoutMs || DEFAULT_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS);
  const inbox = spine.inboxes.open();
  const owner = new StreamOwner();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sub: Subscription | undefined;
  let settle!: (error?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error?: unknown) => {
      // Closed at once, not in `finally`: a reply routed in the same turn is refused.
      spine.inboxes.close(inbox);
      owner.onPulse = () => {};
      clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error);
    };
  });
  // Settled possibly while the publish is still awaited: handled here, rethrown below.
  done.catch(() => {});
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => settle(new BusError("TIMEOUT", `no reply within ${timeout} ms`)),
      timeout,
    );
  };
  let replies = 0;
  let bytes = 0;
  owner.onPulse = (reply) => {
    const failure = replyError(reply);
    if (failure) return settle(failure);
    replies++;
    bytes += reply.payload?.length ?? 0;
    if (replies > options.maxReplies) {
      options.onLimit?.("stream_max_replies");
      return settle(
        new BusError(
          "QUOTA_EXCEEDED",
          `the stream passed its limit of ${options.maxReplies} replies`,
        ),
      );
    }
    if (bytes > options.maxBytes) {
      options.onLimit?.("stream_max_bytes");
      return settle(
        new BusError("QUOTA_EXCEEDED", `the stream passed its limit of ${options.maxBytes} bytes`),
      );
    }
    const final = isFinalReply(reply);
    try {
      onReply(reply, final);
    } catch (e) {
      return settle(e);
    }
    if (final) settle();
    else arm();
  };
  const cancel = () => settle(signal!.reason);
  try {
    sub = spine.subscribe(owner, {
      id: 0,
      realityId,
      pattern: inbox,
      overflow: "drop-new",
    });
    arm();
    if (signal?.aborted) cancel();
    else signal?.addEventListener("abort", cancel, { once: true });
    try {
      await spine.publish({ ...pulse, realityId, replyTo: inbox }, producerId);
      options.onPublished?.();
    } catch (e) {
      settle(e);
    }
    return await done;
  } finally {
    signal?.removeEventListener("abort", cancel);
    spine.inboxes.close(inbox);
    clearTimeout(timer);
    if (sub) spine.unsubscribe(sub);
  }
}
