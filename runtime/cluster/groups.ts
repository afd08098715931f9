/**
 * Queue groups across the nodes: a durable pull consumer per (reality, group, pattern),
 * shared by every node with members. JetStream gives each pulse to one node, which gives it
 * to one of its members and acks; a node that died before acking has it redelivered to
 * another after `ack_wait`.
 * @module
 */
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import type { ConsumerConfig, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { FabricSubscription, StampedPulse } from "../spine/mod.ts";
import type { ClusterConnection } from "./connect.ts";
import { groupConsumer, pulseSubject, realityStream } from "./subjects.ts";
import { storedPulse } from "./stored_pulse.ts";

/** What the groups need of the fabric they serve. */
export interface QueueGroupsContext {
  readonly conn: ClusterConnection;
  /** Makes sure the reality's stream exists. */
  stream(realityId: string): Promise<void>;
  /** Gives `pulse` to one member of `group` here; false when none could take it now. */
  deliver(pulse: StampedPulse, group: string): boolean;
  /** Called with what went wrong in the background. */
  onError(what: string, err: unknown): void;
}

interface Share {
  count: number;
  messages: ConsumerMessages | null;
  /**
   * Stream sequences this node gave back (no member could take them) and expects again,
   * with when: nothing after the lowest of them is delivered here until it was, so a pulse
   * given back is not overtaken by later ones on this node (JetStream redelivers by
   * sequence). Forgotten after {@linkcode GIVEN_BACK_MS}: another node may have taken it.
   */
  givenBack: Map<number, number>;
}

/** How long a pulse given back holds later ones on this node, at most (ms). */
const GIVEN_BACK_MS = 2_000;
/** The delay before JetStream offers a pulse given back again (ms). */
const REDELIVER_MS = 200;

/** The queue groups one node has members in. */
export class QueueGroups {
  readonly #ctx: QueueGroupsContext;
  readonly #shares = new Map<string, Share>();
  #closed = false;

  constructor(ctx: QueueGroupsContext) {
    this.#ctx = ctx;
  }

  /** A member of `spec.queueGroup` subscribed here: the first one starts taking its share. */
  join(spec: FabricSubscription): void {
    if (this.#closed) return;
    const key = shareKey(spec.realityId, spec.queueGroup!, spec.pattern);
    const held = this.#shares.get(key);
    if (held) {
      held.count++;
      return;
    }
    const share: Share = { count: 1, messages: null, givenBack: new Map() };
    this.#shares.set(key, share);
    this.#take(spec, share).catch((err) => {
      if (this.#shares.get(key) === share) this.#shares.delete(key);
      this.#ctx.onError(`queue group ${spec.queueGroup} in ${spec.realityId}`, err);
    });
  }

  /** A member left: the last one here stops this node's share. */
  leave(spec: FabricSubscription): void {
    const key = shareKey(spec.realityId, spec.queueGroup!, spec.pattern);
    const share = this.#shares.get(key);
    if (share && --share.count === 0) {
      this.#shares.delete(key);
      share.messages?.stop();
    }
  }

  /**
   * Makes the group's consumer start again at `fromSeq`: what is unacknowledged (held by a
   * node that died) or after it comes again, in stream order. For a group that one node
   * alone consumes (an operator taken over from its committed input sequence), called while
   * that node has no member in it yet.
   */
  async rewind(realityId: string, group: string, pattern: string, fromSeq: number): Promise<void> {
    const stream = realityStream(realityId);
    await this.#ctx.stream(realityId);
    const name = groupConsumer(group, pattern);
    await this.#ctx.conn.jsm.consumers.delete(stream, name).catch((err) => {
      if (!/not found/i.test((err as Error).message)) throw err;
    });
    await this.#add(stream, name, pulseSubject(realityId, pattern), {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, fromSeq),
    });
    // A share taken here meanwhile reads the new consumer from the start (see `#take`).
    this.#shares.get(shareKey(realityId, group, pattern))?.messages?.stop();
  }

  /** Every share taken again (after a reconnect). */
  restartAll(): void {
    for (const share of this.#shares.values()) share.messages?.stop();
  }

  /** Stops every share. */
  close(): void {
    this.#closed = true;
    for (const share of this.#shares.values()) share.messages?.stop();
    this.#shares.clear();
  }

  async #take(spec: FabricSubscription, share: Share): Promise<void> {
    // From the moment the member subscribed: pulses published while the consumer is being
    // made reach the group too.
    const since = new Date(Date.now() - 1).toISOString();
    const { realityId, queueGroup, pattern } = spec;
    const stream = realityStream(realityId);
    await this.#ctx.stream(realityId);
    const name = groupConsumer(queueGroup!, pattern);
    const exists = await this.#ctx.conn.jsm.consumers.info(stream, name).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await this.#add(stream, name, pulseSubject(realityId, pattern), {
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: since,
      });
    }
    const consumer = await this.#ctx.conn.js.consumers.get(stream, name);
    if (this.#closed || share.count === 0) return;
    share.messages = await consumer.consume({
      max_messages: 256,
      expires: 2_000,
      callback: (m: JsMsg) => {
        let pulse: StampedPulse;
        try {
          pulse = storedPulse(realityId, m.data, m.seq);
        } catch (err) {
          this.#ctx.onError(`reality ${realityId}: message ${m.seq} is not a pulse`, err);
          return m.term();
        }
        if (!held(share.givenBack, m.seq) && this.#ctx.deliver(pulse, queueGroup!)) {
          share.givenBack.delete(m.seq);
          m.ack();
        } else {
          // No member here now (one leaving, a runner restarting), or an earlier pulse given
          // back is not delivered yet: back to JetStream, in order behind it.
          if (!share.givenBack.has(m.seq)) share.givenBack.set(m.seq, Date.now());
          m.nak(REDELIVER_MS);
        }
      },
    });
    const messages = share.messages;
    if (this.#closed || share.count === 0) return messages.stop();
    // Ended under us (NATS lost, consumer gone or rewound): taken again while members
    // remain here.
    void messages.closed().then(() => {
      if (this.#closed || share.count === 0 || share.messages !== messages) return;
      setTimeout(() => {
        if (this.#closed || share.count === 0) return;
        this.#take(spec, share).catch((err) => {
          this.#ctx.onError(`queue group ${queueGroup} in ${realityId}`, err);
        });
      }, 500);
    });
  }

  async #add(
    stream: string,
    name: string,
    subject: string,
    start: Partial<ConsumerConfig>,
  ): Promise<void> {
    try {
      await this.#ctx.conn.jsm.consumers.add(stream, {
        durable_name: name,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        ...start,
        ack_wait: 5_000_000_000,
        max_ack_pending: 20_000,
        // Nobody pulls for an hour (no member anywhere): JetStream removes it.
        inactive_threshold: 3_600_000_000_000,
      });
    } catch (err) {
      // Created by another node meanwhile (same name, its own start): use that one.
      if (!/already|exists|can not be updated/i.test((err as Error).message)) throw err;
    }
  }
}

/**
 * Whether stream sequence `seq` must wait: a lower one given back within
 * {@linkcode GIVEN_BACK_MS} has not come again yet (older ones are forgotten here).
 *
 * @example
 * ```ts
 * import { held } from "./groups.ts";
 * const givenBack = new Map([[20, 1_000]]);
 * held(givenBack, 21, 1_100); // true: 20 comes first
 * held(givenBack, 20, 1_100); // false: it is 20 itself
 * held(givenBack, 21, 5_000); // false: 20 was forgotten (another node took it)
 * ```
 */
export function held(givenBack: Map<number, number>, seq: number, now = Date.now()): boolean {
  if (givenBack.size === 0) return false;
  let held = false;
  for (const [s, at] of givenBack) {
    if (now - at > GIVEN_BACK_MS) givenBack.delete(s);
    else if (s < seq) held = true;
  }
  return held;
}

function shareKey(realityId: string, group: string, pattern: string): string {
  return `${realityId} ${group} ${pattern}`;
}
