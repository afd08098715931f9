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
import { DeliverPolicy, type JetStreamClient, StorageType } from "@nats-io/jetstream";
import type { Consumer, ConsumerMessages } from "@nats-io/jetstream";
import type { Subscription as NatsSubscription } from "@nats-io/transport-node";
import { BusError, type IPulse } from "../protocol/mod.ts";
import {
  type FabricSubscription,
  isInboxTopic,
  type PulseFabric,
  type Spine,
  type StampedPulse,
} from "../spine/mod.ts";
import type { ClusterConnection } from "./connect.ts";
import { QueueGroups } from "./groups.ts";
import { AckedPublisher, clusterUnavailable, type PublisherOptions } from "./publisher.ts";
import { storedPulse } from "./stored_pulse.ts";
import { ANNOUNCE_SUBJECT, interestSubject, pulseSubject, realityStream } from "./subjects.ts";

/** What an unacknowledged publish resolves with: no sequence is known for it here. */
const UNACKED: Promise<number> = Promise.resolve(0);

/** How a fabric behaves; every field has a default. */
export interface FabricOptions extends PublisherOptions {
  /** Called with what went wrong in the background (consumers, announcements). */
  readonly onError?: (what: string, err: unknown) => void;
  /**
   * The realities this node keeps history of (its log's registry): consumed from the
   * stream at all times, so history and resumes work here. Other realities are consumed
   * only while this node has a subscriber in them.
   */
  readonly kept?: KeptRealities;
}

/** The realities a node keeps history of, as its log knows them. */
export interface KeptRealities {
  /** Every reality the log knows. */
  list(): string[];
  /** Whether the log knows the reality (created by the API, or by a pulse it logged). */
  has(realityId: string): boolean;
  /**
   * Whether a retention rule of the reality stores pulses here. A stream this node creates
   * for a reality without one has `--cluster-fire-and-forget-replicas`. Absent: every
   * reality counts as stored.
   */
  stores?(realityId: string): boolean;
}

/** Where a reality's consumer starts: after a sequence, or at a time (a first subscriber). */
type Start = { readonly seq: number } | { readonly time: string };

/** The JetStream fabric of one node. */
export class JetStreamFabric implements PulseFabric {
  readonly #conn: ClusterConnection;
  readonly #js: JetStreamClient;
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
  readonly #kept: KeptRealities | undefined;
  #unwatchConnection: (() => void) | undefined;
  readonly #interest = new Map<string, { count: number; sub: NatsSubscription }>();
  readonly #groups: QueueGroups;
  readonly #publisher: AckedPublisher;
  #closed = false;
  /** Publishes refused before reaching NATS (cut off): counted with the publisher's. */
  #refusedHere = 0;
  /** Fire-and-forget publishes handed to NATS. */
  #unacked = 0;
  /** Pulses brought to this node by its consumers. */
  delivered = 0;

  constructor(conn: ClusterConnection, options: FabricOptions = {}) {
    this.#conn = conn;
    this.#js = conn.js;
    this.#publisher = new AckedPublisher(conn, options);
    this.#groups = new QueueGroups({
      conn,
      stream: (realityId) => this.#stream(realityId),
      deliver: (pulse, group) => this.#spine?.deliverToGroup(pulse, group) ?? false,
      onError: (what, err) => this.#onError(what, err),
    });
    this.#onError = options.onError ?? (() => {});
    this.#kept = options.kept;
  }

  /** Publishes stored by the cluster (acknowledged, or handed over unacknowledged). */
  get stored(): number {
    return this.#publisher.stored + this.#unacked;
  }

  /** Publishes refused with CLUSTER_UNAVAILABLE. */
  get refused(): number {
    return this.#publisher.refused + this.#refusedHere;
  }

  /**
   * Makes queue group `group`'s consumer of `pattern` in `realityId` start again at
   * `fromSeq` (an operator taken over from its committed input sequence: what the node that
   * died held unacknowledged comes again, in order). Call before a member joins it here.
   */
  rewindGroup(realityId: string, group: string, pattern: string, fromSeq: number): Promise<void> {
    return this.#groups.rewind(realityId, group, pattern, fromSeq);
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
      this.#refusedHere++;
      throw new BusError(
        "CLUSTER_UNAVAILABLE",
        `reality "${realityId}": this node cannot reach its NATS cluster; nothing was stored`,
      );
    }
  }

  publish(pulse: IPulse, bytes: Uint8Array, unacked = false): Promise<number> {
    const realityId = pulse.realityId!;
    const subject = pulseSubject(realityId, pulse.topic!);
    if (this.#ready.has(realityId)) {
      if (unacked) {
        // Fire-and-forget: a plain NATS publish the stream captures, no PubAck to wait for or
        // parse (what the publisher asked: no acknowledgement, so no retry either).
        this.#conn.nc.publish(subject, bytes);
        this.#unacked++;
        return UNACKED;
      }
      // On the wire now, as a fire-and-forget one would be: a client's publishes reach the
      // stream in the order it sent them, whatever their acks (behind a `then` an acked one
      // went out after the unacked ones the node read with it).
      return this.#publisher.store(subject, bytes, pulse.id!);
    }
    return this.#stream(realityId).then(() => this.#publisher.store(subject, bytes, pulse.id!));
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
    if (spec.queueGroup) this.#groups.join(spec);
  }

  unsubscribed(spec: FabricSubscription): void {
    if (isInboxTopic(spec.pattern)) return;
    const key = `${spec.realityId} ${spec.pattern}`;
    const held = this.#interest.get(key);
    if (held && --held.count === 0) {
      this.#interest.delete(key);
      held.sub.unsubscribe();
    }
    if (spec.queueGroup) this.#groups.leave(spec);
  }

  async hasInterest(realityId: string, topic: string): Promise<boolean> {
    // A subscriber that was told "subscribed" on another node a moment ago may not have
    // its interest subscription at the NATS server yet (the subscribe goes out
    // asynchronously): "no responders" is asked again twice, 100 then 200 ms later.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!this.#conn.connected || this.#closed) return false;
      if (attempt > 0) await new Promise((r) => setTimeout(r, 100 * attempt));
      try {
        const subject = interestSubject(realityId, topic);
        await this.#conn.nc.request(subject, undefined, { timeout: 1000 });
        return true;
      } catch {
        // No responders anywhere (NATS answers at once), or none in time.
      }
    }
    return false;
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
    this.#groups.restartAll();
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
    this.#publisher.close();
    this.#unwatchConnection?.();
    this.#watched.clear();
    for (const c of this.#consumers.values()) c?.stop();
    this.#consumers.clear();
    this.#groups.close();
    for (const i of this.#interest.values()) i.sub.unsubscribe();
    this.#interest.clear();
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
      if (!/not found/i.test((err as Error).message)) throw clusterUnavailable(realityId, err);
    }
    // File storage for every reality: memory streams measured no faster here (raw JetStream
    // R3 cross-node 8.0k/s memory, 9.7k/s file) and lose their sequence when all their
    // servers restart. A reality without a retention rule known here may have fewer replicas.
    const stored = this.#kept?.stores?.(realityId) ?? true;
    try {
      await this.#conn.jsm.streams.add({
        name,
        subjects: [`ar.${realityId}.>`],
        storage: StorageType.File,
        num_replicas: stored ? this.#conn.replicas : this.#conn.fireAndForgetReplicas,
        // Two minutes of message ids: a publish retried across a leader election is
        // stored once.
        duplicate_window: 120_000_000_000,
      });
    } catch (err) {
      // Another node created it meanwhile: fine.
      if (!/already in use|exists/i.test((err as Error).message)) {
        throw clusterUnavailable(realityId, err);
      }
    }
    this.#conn.nc.publish(ANNOUNCE_SUBJECT, realityId);
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
        let stamped: StampedPulse;
        try {
          stamped = storedPulse(realityId, m.data, m.seq);
        } catch (err) {
          return this.#onError(`reality ${realityId}: message ${m.seq} is not a pulse`, err);
        }
        if (this.#spine?.deliver(stamped)) this.delivered++;
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
