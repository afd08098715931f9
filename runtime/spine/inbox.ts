/**
 * Inboxes, the topics requests are answered on: unguessable names (128 random bits) and
 * the table of requests waiting for their reply, each with the subscribers it reached. An
 * inbox is a capability: wildcard subscriptions never match it (`trie.ts`, and the topic
 * patterns of `protocol/pattern.ts`), and the edge lets only a request's responders
 * publish to it.
 * @module
 */
import type { SubscriptionOwner } from "./subscription.ts";

/** The first segment of every inbox topic. */
export const INBOX_SEGMENT = "_inbox";

/** Whether `topic` (or a pattern) lies in the node's inbox namespace `_inbox.…`. */
export function isInboxTopic(topic: string): boolean {
  return topic.startsWith(INBOX_SEGMENT) &&
    (topic.length === INBOX_SEGMENT.length || topic.charCodeAt(INBOX_SEGMENT.length) === 0x2e);
}

/** A fresh inbox topic: `_inbox.` and 32 hex digits of 128 random bits (topics are lower case). */
export function newInboxTopic(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let hex = "";
  for (const b of bytes) hex += (b < 16 ? "0" : "") + b.toString(16);
  return `${INBOX_SEGMENT}.${hex}`;
}

/** The requests waiting for a reply, by inbox, with the subscribers each was delivered to. */
export class PendingInboxes {
  readonly #pending = new Map<string, Set<SubscriptionOwner>>();

  /** Requests waiting. */
  get size(): number {
    return this.#pending.size;
  }

  /** Opens a fresh inbox for a request about to be published. */
  open(): string {
    let inbox = newInboxTopic();
    while (this.#pending.has(inbox)) inbox = newInboxTopic();
    this.#pending.set(inbox, new Set());
    return inbox;
  }

  /** The request was answered, timed out or failed: nobody may reply any more. */
  close(inbox: string): void {
    this.#pending.delete(inbox);
  }

  /**
   * A request from another node of a cluster names `inbox` as its reply-to: this node
   * records whom it delivers the request to, so they may reply (through the cluster). Kept
   * `ttlMs` (the longest request), at most `max` such inboxes (the oldest go first).
   */
  adopt(inbox: string, ttlMs = 300_000, max = 100_000): Set<SubscriptionOwner> {
    const now = Date.now();
    for (const [old, expires] of this.#adopted) {
      if (expires > now && this.#adopted.size < max) break;
      this.#adopted.delete(old);
      this.#pending.delete(old);
    }
    let set = this.#pending.get(inbox);
    if (!set) {
      this.#pending.set(inbox, set = new Set());
      this.#adopted.set(inbox, now + ttlMs);
    }
    return set;
  }

  readonly #adopted = new Map<string, number>();

  /**
   * The subscribers a request waiting on `inbox` was delivered to (the Spine adds each as it
   * routes); undefined when no request waits there. Only these may reply.
   */
  responders(inbox: string): Set<SubscriptionOwner> | undefined {
    return this.#pending.get(inbox);
  }
}
