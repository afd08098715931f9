/**
 * Realities on JetStream streams: the `PulseFabric` of a cluster node. Each reality is one
 * stream (`ar_<reality>`, subjects `ar.<reality>.>`, file storage, R`replicas`); a pulse's
 * sequence is the stream sequence of its message, so it is gapless and monotonic across
 * every node. A publish is acknowledged when JetStream acknowledged the replicated write;
 * every node consumes each reality it uses with an ordered consumer and hands the pulses,
 * in stream order, to its Spine (`deliver`), which logs them for history and routes them to
 * its own subscribers. A node cut off from NATS refuses publishes with CLUSTER_UNAVAILABLE
 * and comes back by itself.
 * @module
 */
import { AckPolicy, DeliverPolicy, type JetStreamClient, StorageType } from "@nats-io/jetstream";
import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import {
  createInbox,
  headers,
  type Msg,
  type Subscription as NatsSubscription,
} from "@nats-io/transport-node";
import { BusError, concatBytes, decodePulse } from "../protocol/mod.ts";
import {
  type FabricSubscription,
  isInboxTopic,
  type PulseFabric,
  type Spine,
  StampedPulse,
  stampEntropy,
} from "../spine/mod.ts";
import type { ClusterConnection } from "./connect.ts";
import type { IPulse } from "../protocol/mod.ts";

/** The NATS subject of a reality's topic (topics and realities are valid subject tokens). */
export function pulseSubject(realityId: string, topic: string): string {
  return `ar.${realityId}.${topic}`;
}

/** The JetStream stream of a reality. */
export function realityStream(realityId: string): string {
  return `ar_${realityId}`;
}

/** The durable consumer a queue group shares across nodes (one per reality, group, pattern). */
export function groupConsumer(group: string, pattern: string): string {
  // FNV-1a of the pattern: consumer names allow no dots nor wildcards.
  let h = 0x811c9dc5;
  for (let i = 0; i < pattern.length; i++) {
    h ^= pattern.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `g_${group}_${h.toString(16).padStart(8, "0")}`;
}

/** Where a node answers "I have a subscriber" for requests from other nodes. */
function interestSubject(realityId: string, pattern: string): string {
  return `arqon.interest.${realityId}.${pattern}`;
}

/** What an unacknowledged publish resolves with: no sequence is known for it here. */
const UNACKED: Promise<number> = Promise.resolve(0);

/** Where nodes announce a reality they created a stream for, so the others consume it. */
const ANNOUNCE_SUBJECT = "arqon.cluster.reality";

/** How a fabric behaves; every field has a default. */
export interface FabricOptions {
  /**
   * How long a publish keeps retrying (same message id: JetStream drops the duplicates)
   * while its stream elects a leader, before it fails with CLUSTER_UNAVAILABLE.
   * @default {15000}
   */
  readonly retryMs?: number;
  /**
   * Wait for one JetStream acknowledgement before retrying.
   * @default {2000}
   */
  readonly ackTimeoutMs?: number;
  /** Called with what went wrong in the background (consumers, announcements). */
  readonly onError?: (what: string, err: unknown) => void;
  /**
   * The realities this node keeps history of (its log's registry): consumed from the
   * stream at all times, so history and resumes work here. Other realities are consumed
   * only while this node has a subscriber in them.
   */
  readonly kept?: { list(): string[]; has(realityId: string): boolean };
}

/** Where a reality's consumer starts: after a sequence, or at a time (a first subscriber). */
type Start = { readonly seq: number } | { readonly time: string };

/** The JetStream fabric of one node. */
export class JetStreamFabric implements PulseFabric {
  readonly #conn: ClusterConnection;
  readonly #js: JetStreamClient;
  readonly #retryMs: number;
  readonly #ackTimeoutMs: number;
  readonly #onError: (what: string, err: unknown) => void;
  #spine: Spine | undefined;
  readonly #streams = new Map<string, Promise<void>>();
  readonly #consumers = new Map<string, ConsumerMessages | null>();
  /** The consumer object of each running reality consumer, checked by the watchdog. */
  readonly #watched = new Map<string, Consumer>();
  // Each watched reality's progress at the last watchdog tick.
  readonly #progressAtWatch = new Map<string, number>();
  #watchdog: ReturnType<typeof setInterval> | undefined;
  /** The last sequence each reality's consumer gave this node, and where each first began. */
  readonly #progress = new Map<string, number>();
  readonly #starts = new Map<string, Start>();
  readonly #kept: { list(): string[]; has(realityId: string): boolean } | undefined;
  #unwatchConnection: (() => void) | undefined;
  readonly #interest = new Map<string, { count: number; sub: NatsSubscription }>();
  readonly #groups = new Map<string, { count: number; messages: ConsumerMessages | null }>();
  #closed = false;
  /** Publishes acknowledged by JetStream, and refused (for metrics and the bench). */
  stored = 0;
  /** Publishes refused with CLUSTER_UNAVAILABLE. */
  refused = 0;
  /** Pulses brought to this node by its consumers. */
  delivered = 0;

  constructor(conn: ClusterConnection, options: FabricOptions = {}) {
    this.#conn = conn;
    this.#js = conn.js;
    this.#retryMs = options.retryMs ?? 15_000;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 2_000;
    this.#onError = options.onError ?? (() => {});
    this.#kept = options.kept;
  }

  /**
   * Plugs the fabric into a Spine, consumes every reality that already has a stream and
   * listens for the realities other nodes create.
   */
  async attach(spine: Spine): Promise<void> {
    this.#spine = spine;
    spine.setFabric(this);
    // Ordered consumers are ephemeral, on one server: when that server dies the client is
    // not always told (measured: no missed-heartbeat notice). Every 2 s each consumer is
    // asked for; one the cluster no longer knows is made again after the last sequence
    // this node took. After a reconnect every consumer is made again at once.
    this.#watchdog = setInterval(() => this.#watch(), 2_000);
    this.#unwatchConnection = this.#conn.onAvailability((up) => {
      if (up) this.#restartAll();
    });
    const sub = this.#conn.nc.subscribe(ANNOUNCE_SUBJECT, {
      callback: (err, msg) => {
        if (err || this.#closed) return;
        const id = msg.string();
        if (!this.#consumers.has(id)) this.#use(id);
      },
    });
    void sub;
    for await (const name of this.#conn.jsm.streams.names()) {
      if (name.startsWith("ar_")) this.#use(name.slice(3));
    }
  }

  admit(realityId: string): void {
    if (this.#closed) throw new BusError("SHUTTING_DOWN", "the node is shutting down");
    if (!this.#conn.connected) {
      this.refused++;
      throw new BusError(
        "CLUSTER_UNAVAILABLE",
        `reality "${realityId}": this node cannot reach its NATS cluster; nothing was stored`,
      );
    }
  }

  publish(pulse: IPulse, bytes: Uint8Array, unacked = false): Promise<number> {
    const realityId = pulse.realityId!;
    const subject = pulseSubject(realityId, pulse.topic!);
    if (unacked && this.#ready.has(realityId)) {
      // Fire-and-forget: a plain NATS publish the stream captures, no PubAck to wait for or
      // parse (what the publisher asked: no acknowledgement, so no retry either).
      this.#conn.nc.publish(subject, bytes);
      this.stored++;
      return UNACKED;
    }
    return this.#stream(realityId).then(() => this.#store(subject, bytes, pulse.id!));
  }

  open(realityId: string, lastSequence: number): void {
    // Only realities whose history this node keeps are consumed from their last sequence;
    // the others wait for a subscriber here (3 nodes decoding every pulse cost 3x the CPU).
    if (this.#kept?.has(realityId)) this.#begin(realityId, { seq: lastSequence + 1 });
  }

  #begin(realityId: string, start: Start): void {
    if (this.#consumers.has(realityId) || this.#closed) return;
    this.#consumers.set(realityId, null);
    this.#starts.set(realityId, start);
    this.#run(realityId, start);
  }

  /**
   * Consumes a reality from `start`; whenever the consumer ends (NATS lost, stream leader
   * gone for long), again after the last sequence this node took.
   */
  #run(realityId: string, start: Start): void {
    if (this.#closed) return;
    this.#stream(realityId)
      .then(() => this.#consume(realityId, start))
      .catch((err) => {
        if (this.#conn.connected) this.#onError(`reality ${realityId}: consumer`, err);
        this.#again(realityId);
      });
  }

  #again(realityId: string): void {
    setTimeout(() => {
      if (this.#closed) return;
      const last = this.#progress.get(realityId);
      this.#run(realityId, last ? { seq: last + 1 } : this.#starts.get(realityId)!);
    }, 500);
  }

  subscribed(spec: FabricSubscription): void {
    if (this.#closed) return;
    // A first subscriber here: the reality's pulses from now on (a request's inbox too).
    if (!this.#consumers.has(spec.realityId)) {
      this.#begin(spec.realityId, { time: new Date(Date.now() - 5).toISOString() });
    }
    if (isInboxTopic(spec.pattern)) return;
    const key = `${spec.realityId} ${spec.pattern}`;
    const held = this.#interest.get(key);
    if (held) held.count++;
    else {
      const sub = this.#conn.nc.subscribe(interestSubject(spec.realityId, spec.pattern), {
        callback: (err, msg) => {
          if (!err) msg.respond();
        },
      });
      this.#interest.set(key, { count: 1, sub });
    }
    if (spec.queueGroup) this.#joinGroup(spec);
  }

  unsubscribed(spec: FabricSubscription): void {
    if (isInboxTopic(spec.pattern)) return;
    const key = `${spec.realityId} ${spec.pattern}`;
    const held = this.#interest.get(key);
    if (held && --held.count === 0) {
      this.#interest.delete(key);
      held.sub.unsubscribe();
    }
    if (spec.queueGroup) {
      const gkey = `${spec.realityId} ${spec.queueGroup} ${spec.pattern}`;
      const group = this.#groups.get(gkey);
      if (group && --group.count === 0) {
        this.#groups.delete(gkey);
        group.messages?.stop();
      }
    }
  }

  async hasInterest(realityId: string, topic: string): Promise<boolean> {
    if (!this.#conn.connected) return false;
    try {
      await this.#conn.nc.request(interestSubject(realityId, topic), undefined, { timeout: 1000 });
      return true;
    } catch {
      // No responders anywhere (NATS answers at once), or none in time.
      return false;
    }
  }

  #watch(): void {
    if (this.#closed || !this.#conn.connected) return;
    // Realities given a history here since (the realities API): consumed from now on.
    for (const realityId of this.#kept?.list() ?? []) {
      if (!this.#consumers.has(realityId)) this.#use(realityId);
    }
    for (const [realityId, consumer] of this.#watched) {
      consumer.info(false).catch((err) => {
        if (this.#closed || this.#watched.get(realityId) !== consumer) return;
        if (/not found/i.test((err as Error).message)) this.#restart(realityId);
      });
      // A consumer the cluster still knows can stall too after its stream's leader died
      // (seen: a node stuck 250 pulses behind for good). No progress over a whole tick
      // while the stream holds more than it gave: made again after the last one taken.
      const at = this.#progress.get(realityId) ?? 0;
      const before = this.#progressAtWatch.get(realityId);
      this.#progressAtWatch.set(realityId, at);
      if (before !== at) continue;
      this.#conn.jsm.streams.info(realityStream(realityId)).then((info) => {
        if (this.#closed || this.#watched.get(realityId) !== consumer) return;
        if (info.state.last_seq > (this.#progress.get(realityId) ?? 0)) this.#restart(realityId);
      }).catch(() => {/* the next tick asks again */});
    }
  }

  #restartAll(): void {
    for (const realityId of [...this.#watched.keys()]) this.#restart(realityId);
    for (const group of this.#groups.values()) group.messages?.stop();
  }

  /** Stops a reality's consumer; its `closed()` makes it again (see `#consume`). */
  #restart(realityId: string): void {
    this.#watched.delete(realityId);
    this.#consumers.get(realityId)?.stop();
  }

  /** Stops the consumers (the connection is the node's to close). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#watchdog);
    clearInterval(this.#ackSweep);
    this.#ackSub?.unsubscribe();
    for (const waiting of this.#awaiting.values()) {
      waiting.reject(new BusError("SHUTTING_DOWN", "the node is shutting down"));
    }
    this.#awaiting.clear();
    this.#unwatchConnection?.();
    this.#watched.clear();
    for (const c of this.#consumers.values()) c?.stop();
    this.#consumers.clear();
    for (const g of this.#groups.values()) g.messages?.stop();
    this.#groups.clear();
    for (const i of this.#interest.values()) i.sub.unsubscribe();
    this.#interest.clear();
  }

  #joinGroup(spec: FabricSubscription): void {
    const key = `${spec.realityId} ${spec.queueGroup} ${spec.pattern}`;
    const held = this.#groups.get(key);
    if (held) {
      held.count++;
      return;
    }
    const entry = { count: 1, messages: null as ConsumerMessages | null };
    this.#groups.set(key, entry);
    this.#shareGroup(spec, entry).catch((err) => {
      if (this.#groups.get(key) === entry) this.#groups.delete(key);
      this.#onError(`queue group ${spec.queueGroup} in ${spec.realityId}`, err);
    });
  }

  /**
   * A durable pull consumer per (reality, group, pattern), shared by every node with
   * members: JetStream gives each pulse to one node, which gives it to one member and acks
   * (a node that died before acking has it redelivered to another after `ack_wait`).
   */
  async #shareGroup(
    spec: FabricSubscription,
    entry: { count: number; messages: ConsumerMessages | null },
  ): Promise<void> {
    // From the moment the member subscribed: pulses published while the consumer is being
    // made reach the group too.
    const since = new Date(Date.now() - 1).toISOString();
    const stream = realityStream(spec.realityId);
    await this.#stream(spec.realityId);
    const name = groupConsumer(spec.queueGroup, spec.pattern);
    const exists = await this.#conn.jsm.consumers.info(stream, name).then(() => true, () => false);
    if (!exists) {
      await this.#addGroupConsumer(stream, name, spec, since);
    }
    const consumer = await this.#js.consumers.get(stream, name);
    if (this.#closed || entry.count === 0) return;
    entry.messages = await consumer.consume({
      max_messages: 256,
      expires: 2_000,
      callback: (m: JsMsg) => {
        const stamped = this.#decode(spec.realityId, m.data, m.seq);
        if (stamped && this.#spine?.deliverToGroup(stamped, spec.queueGroup)) m.ack();
        else if (stamped) m.nak(200);
        else m.term();
      },
    });
    const messages = entry.messages;
    if (this.#closed || entry.count === 0) return messages.stop();
    // Ended under us (NATS lost, consumer gone): share again while members remain here.
    void messages.closed().then(() => {
      if (this.#closed || entry.count === 0 || entry.messages !== messages) return;
      setTimeout(() => {
        if (this.#closed || entry.count === 0) return;
        this.#shareGroup(spec, entry).catch((err) => {
          this.#onError(`queue group ${spec.queueGroup} in ${spec.realityId}`, err);
        });
      }, 500);
    });
  }

  async #addGroupConsumer(
    stream: string,
    name: string,
    spec: FabricSubscription,
    since: string,
  ): Promise<void> {
    try {
      await this.#conn.jsm.consumers.add(stream, {
        durable_name: name,
        filter_subject: pulseSubject(spec.realityId, spec.pattern),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: since,
        ack_wait: 5_000_000_000,
        max_ack_pending: 20_000,
        // Nobody pulls for an hour (no member anywhere): JetStream removes it.
        inactive_threshold: 3_600_000_000_000,
      });
    } catch (err) {
      // Created by another node meanwhile (same name, its own start time): use that one.
      if (!/already|exists|can not be updated/i.test((err as Error).message)) throw err;
    }
  }

  #decode(realityId: string, data: Uint8Array, seq: number): StampedPulse | null {
    let pulse: IPulse;
    try {
      pulse = decodePulse(data);
    } catch (err) {
      this.#onError(`reality ${realityId}: message ${seq} is not a pulse`, err);
      return null;
    }
    pulse.sequence = seq;
    // The stored bytes say sequence 0; proto3 keeps the last value of a field. A pulse
    // without an entropy seed gets the reality's derived one for this sequence (docs/time.md),
    // the same on every node.
    const seeded = stampEntropy(pulse, realityId, seq);
    const tail = seeded
      ? concatBytes(varintField(0x10, seq), varintField(0x70, Number(pulse.entropySeed)))
      : varintField(0x10, seq);
    return StampedPulse.fromStored(pulse, concatBytes(data, tail));
  }

  // A reality another node announced, or found at start: the Spine creates it (and so
  // opens it here) with its own log's last sequence.
  #use(realityId: string): void {
    if (!this.#kept?.has(realityId)) return;
    try {
      const reality = this.#spine?.reality(realityId);
      if (reality) this.open(realityId, reality.sequence);
    } catch (err) {
      this.#onError(`reality ${realityId}`, err);
    }
  }

  /** Makes sure the reality's stream exists (once per reality and node, unless it failed). */
  #stream(realityId: string): Promise<void> {
    let ready = this.#streams.get(realityId);
    if (!ready) {
      ready = this.#createStream(realityId);
      this.#streams.set(realityId, ready);
      ready.then(() => this.#ready.add(realityId), () => this.#streams.delete(realityId));
    }
    return ready;
  }

  /** Realities whose stream is known to exist (fire-and-forget publishes go straight out). */
  readonly #ready = new Set<string>();

  async #createStream(realityId: string): Promise<void> {
    const name = realityStream(realityId);
    try {
      await this.#conn.jsm.streams.info(name);
      return;
    } catch (err) {
      if (!/not found/i.test((err as Error).message)) throw unavailable(realityId, err);
    }
    try {
      await this.#conn.jsm.streams.add({
        name,
        subjects: [`ar.${realityId}.>`],
        storage: StorageType.File,
        num_replicas: this.#conn.replicas,
        // Two minutes of message ids: a publish retried across a leader election is
        // stored once.
        duplicate_window: 120_000_000_000,
      });
    } catch (err) {
      // Another node created it meanwhile: fine.
      if (!/already in use|exists/i.test((err as Error).message)) {
        throw unavailable(realityId, err);
      }
    }
    this.#conn.nc.publish(ANNOUNCE_SUBJECT, realityId);
  }

  async #store(subject: string, bytes: Uint8Array, msgID: string): Promise<number> {
    const deadline = Date.now() + this.#retryMs;
    let lastErr: unknown;
    for (let attempt = 0;; attempt++) {
      if (this.#closed) throw new BusError("SHUTTING_DOWN", "the node is shutting down");
      if (!this.#conn.connected) break;
      try {
        const seq = await this.#acked(subject, bytes, msgID);
        this.stored++;
        return seq;
      } catch (err) {
        lastErr = err;
        if (Date.now() >= deadline) break;
        // No leader yet (503), a timeout, a reconnect: the same message id again.
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
      }
    }
    this.refused++;
    throw unavailable(subject, lastErr ?? new Error("disconnected from NATS"));
  }

  // JetStream publishes with acks, lighter than `js.publish` per pulse: one reply
  // subscription for all of them (`<inbox>.<n>`) and one timer sweeping the late ones, not a
  // request, a timer and a PubAck object each. Same wire: a publish with a reply subject
  // and the message id header, answered by the stream's leader with {"stream","seq"} or
  // {"error"}.
  #ackInbox = "";
  #ackSub: NatsSubscription | undefined;
  #ackNext = 0;
  readonly #awaiting = new Map<
    number,
    { resolve(seq: number): void; reject(err: Error): void; at: number }
  >();
  #ackSweep: ReturnType<typeof setInterval> | undefined;

  #acked(subject: string, bytes: Uint8Array, msgID: string): Promise<number> {
    if (!this.#ackSub) {
      this.#ackInbox = createInbox();
      this.#ackSub = this.#conn.nc.subscribe(`${this.#ackInbox}.*`, {
        callback: (err, msg) => {
          if (!err) this.#onAck(msg);
        },
      });
      this.#ackSweep = setInterval(() => this.#sweepAcks(), 250);
    }
    const id = ++this.#ackNext;
    const h = headers();
    h.set("Nats-Msg-Id", msgID);
    return new Promise<number>((resolve, reject) => {
      this.#awaiting.set(id, { resolve, reject, at: Date.now() });
      try {
        this.#conn.nc.publish(subject, bytes, { reply: `${this.#ackInbox}.${id}`, headers: h });
      } catch (err) {
        this.#awaiting.delete(id);
        reject(err as Error);
      }
    });
  }

  #onAck(msg: Msg): void {
    const id = Number(msg.subject.slice(this.#ackInbox.length + 1));
    const waiting = this.#awaiting.get(id);
    if (!waiting) return;
    this.#awaiting.delete(id);
    // A 503 status (no responders: no stream leader yet) has no body.
    if (msg.data.length === 0) return waiting.reject(new Error("no responders"));
    try {
      const ack = JSON.parse(new TextDecoder().decode(msg.data));
      if (ack.error) waiting.reject(new Error(ack.error.description ?? "JetStream error"));
      else if (typeof ack.seq === "number") waiting.resolve(ack.seq);
      else waiting.reject(new Error("JetStream answered without a sequence"));
    } catch (err) {
      waiting.reject(err as Error);
    }
  }

  #sweepAcks(): void {
    const late = Date.now() - this.#ackTimeoutMs;
    for (const [id, waiting] of this.#awaiting) {
      // Insertion order is publish order: stop at the first one still in time.
      if (waiting.at > late) break;
      this.#awaiting.delete(id);
      waiting.reject(new Error("timeout waiting for JetStream's ack"));
    }
  }

  async #consume(realityId: string, start: Start): Promise<void> {
    const consumer: Consumer = await this.#js.consumers.get(
      realityStream(realityId),
      "seq" in start
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, start.seq) }
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.time },
    );
    if (this.#closed) return;
    const messages = await consumer.consume({
      max_messages: 1024,
      // Pull requests of 2 s (heartbeats every 1 s): a consumer whose stream changed leader
      // notices within seconds and resumes after the last sequence it gave, instead of 30 s.
      expires: 2_000,
      callback: (m) => {
        this.#progress.set(realityId, m.seq);
        const stamped = this.#decode(realityId, m.data, m.seq);
        if (stamped && this.#spine?.deliver(stamped)) this.delivered++;
      },
    });
    if (this.#closed) {
      messages.stop();
      return;
    }
    this.#consumers.set(realityId, messages);
    this.#watched.set(realityId, consumer);
    void messages.closed().then(() => {
      if (!this.#closed && this.#consumers.get(realityId) === messages) this.#again(realityId);
    });
  }
}

/** A varint field (`tag`: 0x10 Pulse.sequence, 0x70 Pulse.entropy_seed) as bytes. */
function varintField(tag: number, value: number): Uint8Array {
  const out = [tag];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

function unavailable(what: string, err: unknown): BusError {
  return new BusError(
    "CLUSTER_UNAVAILABLE",
    `${what}: not stored in the cluster (${(err as Error)?.message ?? err})`,
  );
}
