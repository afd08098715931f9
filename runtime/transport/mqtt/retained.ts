/**
 * MQTT retained messages: the last retained value of each (reality, topic), kept in
 * memory and bounded in count and payload bytes. A new topic beyond a bound is not
 * retained (its message is still published); replacing or clearing a topic always works.
 * @module
 */
import { topicMatches } from "../../protocol/mod.ts";

/** One retained message. */
export interface RetainedMessage {
  /** The ArqonBus topic. */
  readonly topic: string;
  /** The payload as published. */
  readonly payload: Uint8Array;
  /** The QoS it was published with (0 or 1). */
  readonly qos: 0 | 1;
  /** The MQTT 5 content type, if any. */
  readonly contentType?: string;
}

/** The bounds of a {@linkcode RetainedStore}. */
export interface RetainedBounds {
  /** Messages held at most. */
  readonly maxMessages: number;
  /** Payload bytes held at most. */
  readonly maxBytes: number;
}

/**
 * The retained messages of a node's MQTT listener.
 *
 * @example
 * ```ts
 * import { RetainedStore } from "./retained.ts";
 *
 * const store = new RetainedStore({ maxMessages: 10, maxBytes: 1024 });
 * store.set("", { topic: "a.b", payload: new Uint8Array([1]), qos: 0 }); // true
 * store.matching("", "a.*").length; // 1
 * ```
 */
export class RetainedStore {
  readonly #bounds: RetainedBounds;
  readonly #byReality = new Map<string, Map<string, RetainedMessage>>();
  #count = 0;
  #bytes = 0;

  /** An empty store with its bounds. */
  constructor(bounds: RetainedBounds) {
    this.#bounds = bounds;
  }

  /** Messages held. */
  get count(): number {
    return this.#count;
  }

  /** Payload bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Retains `message` as its topic's last value (an empty payload clears the topic).
   * False when it would go over a bound: the topic keeps what it had.
   */
  set(reality: string, message: RetainedMessage): boolean {
    let topics = this.#byReality.get(reality);
    const old = topics?.get(message.topic);
    if (message.payload.length === 0) {
      if (old) this.#remove(reality, topics!, old);
      return true;
    }
    const count = this.#count + (old ? 0 : 1);
    const bytes = this.#bytes - (old?.payload.length ?? 0) + message.payload.length;
    if (count > this.#bounds.maxMessages || bytes > this.#bounds.maxBytes) return false;
    if (!topics) this.#byReality.set(reality, topics = new Map());
    // A copy: the packet buffer the payload came in is not ours to keep.
    topics.set(message.topic, { ...message, payload: message.payload.slice() });
    this.#count = count;
    this.#bytes = bytes;
    return true;
  }

  /** The retained messages of `reality` whose topic matches `pattern`. */
  matching(reality: string, pattern: string): RetainedMessage[] {
    const topics = this.#byReality.get(reality);
    if (!topics) return [];
    const out: RetainedMessage[] = [];
    for (const m of topics.values()) if (topicMatches(pattern, m.topic)) out.push(m);
    return out;
  }

  #remove(reality: string, topics: Map<string, RetainedMessage>, old: RetainedMessage): void {
    topics.delete(old.topic);
    if (topics.size === 0) this.#byReality.delete(reality);
    this.#count--;
    this.#bytes -= old.payload.length;
  }
}
