/**
 * Who may publish to a request's inbox: only the responders the request was delivered to
 * (the Spine records them as it routes the request; see `spine/inbox.ts`). Publish grants do
 * not decide it: a principal limited to `nothing.>` could otherwise forge the reply to
 * another principal's request once it learnt or guessed the inbox's name. Clients may not
 * subscribe to inboxes nor name one as their own `reply_to` either: inboxes belong to the
 * node's request/reply.
 *
 * A responder is recognised by its connection (the session the request reached) or, for
 * authenticated principals, by its subject: a principal that received the request on an
 * SSE stream replies with an HTTP POST under the same token.
 * @module
 */
import { BusError, type IPulse } from "../protocol/mod.ts";
import { isInboxTopic, type Spine, type SubscriptionOwner } from "../spine/mod.ts";
import type { Principal } from "./auth/mod.ts";

/** What a responder is known by beside its connection (see `replySubjectOf`). */
export interface ReplyIdentity {
  /** `id:<subject>` for an authenticated principal; `http:anonymous` for an open HTTP client. */
  readonly replySubject?: string;
}

/**
 * The identity a reply is checked against beyond the connection: the subject of an
 * authenticated principal; on an open node, HTTP clients (SSE streams, POSTs) share one
 * anonymous identity since HTTP has no session tying a POST to a stream.
 */
export function replySubjectOf(
  principal: Principal | undefined,
  http: boolean,
): string | undefined {
  if (principal && principal.method !== "open") return `id:${principal.subject}`;
  return http ? "http:anonymous" : undefined;
}

/**
 * Throws FORBIDDEN unless `pulse` may be published by this client: a publish to an inbox
 * must come from one of its request's responders, and no client names an inbox as its
 * `reply_to`. `self` is the publishing connection (absent over HTTP).
 */
export function authorizeReply(
  spine: Spine,
  pulse: IPulse,
  self: SubscriptionOwner | undefined,
  subject: string | undefined,
): void {
  const replyTo = pulse.replyTo;
  if (replyTo && isInboxTopic(replyTo)) {
    throw new BusError("FORBIDDEN", `reply_to "${replyTo}": inboxes are the node's to assign`);
  }
  const topic = pulse.topic ?? "";
  if (!isInboxTopic(topic)) return;
  const responders = spine.inboxes.responders(topic);
  if (responders) {
    if (self && responders.has(self)) return;
    if (subject !== undefined) {
      for (const r of responders) if ((r as ReplyIdentity).replySubject === subject) return;
    }
  }
  throw new BusError(
    "FORBIDDEN",
    `"${topic}" is not the inbox of a pending request delivered to this client`,
  );
}

/** Throws FORBIDDEN for a subscription (or history read) naming the inbox namespace. */
export function refuseInboxPattern(pattern: string): void {
  if (isInboxTopic(pattern)) {
    throw new BusError("FORBIDDEN", `"${pattern}": inboxes cannot be subscribed to`);
  }
}
