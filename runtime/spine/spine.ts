/**
 * The Spine: validates, guards, stamps and routes every pulse. It knows nothing of
 * sockets; sessions (WebSocket, shm, HTTP) call `publish` and own `Subscription`s.
 * @module
 */
import { BusError, type IPulse, type ISpectral, spectralError } from "../protocol/mod.ts";
import {
  LATENCY_SAMPLE_EVERY,
  type NodeMetrics,
  type PulseSpan,
  type PulseTracer,
} from "../telemetry/mod.ts";
import { HybridClock, Uuid7Generator } from "../time/mod.ts";
import type { GuardVerdict, PulseFabric, PulseGuard, PulseLog } from "./ports.ts";
import { AgentDirectory } from "./agents.ts";
import { isInboxTopic, PendingInboxes } from "./inbox.ts";
import type { PresenceBoard } from "./presence.ts";
import { isPresenceTopic, wirePresence } from "./presence_events.ts";
import { CONTROL_SET_TOPIC, type ControlParams } from "./control_params.ts";
import { Reality } from "./reality.ts";

import type { AnycastLimits } from "./anycast.ts";
import {
  type AnycastInput,
  type AnycastQuery,
  type AnycastTarget,
  SpineAnycast,
} from "./anycast_route.ts";
import { appendHop } from "./semtrace.ts";
import { StampedPulse } from "./stamped.ts";
import { bringsDerivedStamp, stampEntropy } from "./entropy.ts";
import { checkReportedClock, hasEntries, stampedClock } from "./vclock.ts";
import { checkLane, LANE_NAMES, LANE_UNSPECIFIED } from "./lanes.ts";
import {
  type OverflowMode,
  Subscription,
  type SubscriptionOwner,
  type SubscriptionSpec,
} from "./subscription.ts";
import { patternError, realityError, topicError } from "../protocol/mod.ts";

const EMPTY = new Uint8Array(0);

/** The reality used when a client names none. */
export const DEFAULT_REALITY = "default";

/**
 * Bounds of subscription queues: what a subscription that sets none gets, and the most a
 * client may ask for (a larger request is cut to these: the node's memory is the node's).
 */
export interface QueueDefaults {
  /** Default, and largest, maximum deliveries waiting per subscription. */
  readonly maxMessages: number;
  /** Default, and largest, maximum bytes waiting per subscription. */
  readonly maxBytes: number;
  /** Default overflow policy. */
  readonly overflow: OverflowMode;
}

/** How the Spine is configured. */
export interface SpineOptions {
  readonly metrics: NodeMetrics;
  readonly queue: QueueDefaults;
  /** The CASIL chain or any other guard; a throw or a deny refuses the pulse. */
  readonly guard?: PulseGuard;
  /** The durable log; without it the Spine is purely in-memory. */
  readonly log?: PulseLog;
  /**
   * Realities the Spine holds, in memory and in its log together; creating one more
   * throws QUOTA_EXCEEDED.
   * @default {Infinity}
   */
  readonly maxRealities?: number;
  /**
   * Members listed per reality in presence.
   * @default {10000}
   */
  readonly presenceMaxMembers?: number;
  /**
   * Bounds of semantic anycast (embeddings per subscription and per reality) and the size
   * past which search is approximate.
   * @default {{ maxPerSubscription: 16, maxPerReality: 100000, exactMax: 2048 }}
   */
  readonly anycast?: Partial<AnycastLimits>;
  /**
   * Stamp a vector clock on every sequenced pulse (`--vclock`; docs/time.md).
   * @default {true}
   */
  readonly vclock?: boolean;
}

/** Parameters a caller gives to open a subscription; unset bounds take the defaults. */
export type SubscribeInput =
  & Pick<SubscriptionSpec, "id" | "pattern">
  & Partial<Omit<SubscriptionSpec, "id" | "pattern">>
  & { readonly anycast?: AnycastInput };

/** The Spine of one node. */
export class Spine {
  readonly #realities = new Map<string, Reality>();
  readonly #metrics: NodeMetrics;
  readonly #clock = new HybridClock();
  readonly #ids = new Uuid7Generator();
  readonly #queue: QueueDefaults;
  #guard: PulseGuard | undefined;
  #log: PulseLog | undefined;
  #fabric: PulseFabric | undefined;
  #control: ControlParams | undefined;
  #topicOk = new Set<string>();
  #subscriptionCount = 0;
  #publishCount = 0;
  readonly #maxRealities: number;
  readonly #vclock: boolean;
  /** Semantic anycast: registrations per reality and the dimension each declares. */
  readonly anycast: SpineAnycast;
  /** Requests waiting for their reply, with the responders each reached. */
  readonly inboxes: PendingInboxes = new PendingInboxes();
  /** Operators and carded clients: every publish is checked against its producer's card. */
  readonly agents: AgentDirectory;
  /** Who is in each reality; joins and leaves are published on `sys.presence.*`. */
  readonly presence: PresenceBoard;

  /** Creates a Spine. */
  constructor(options: SpineOptions) {
    this.#metrics = options.metrics;
    this.#maxRealities = options.maxRealities || Infinity;
    this.#vclock = options.vclock ?? true;
    this.#queue = options.queue;
    this.#guard = options.guard;
    this.#log = options.log;
    this.anycast = new SpineAnycast(
      options.anycast,
      (limit) => this.#metrics.limitHits.labels(limit).inc(),
    );
    this.agents = new AgentDirectory(options.metrics);
    this.presence = wirePresence(
      { agents: this.agents, publish: (pulse, producer) => this.#announce(pulse, producer) },
      options.presenceMaxMembers,
      options.metrics,
    );
    this.#metrics.onCollect(() => {
      for (const r of this.#realities.values()) {
        if (r.published === r.publishedReported) continue;
        this.#metrics.published.labels(r.id).inc(r.published - r.publishedReported);
        r.publishedReported = r.published;
      }
      // Queue depth per reality, summed at render rather than tracked per offer.
      this.#metrics.realityQueued.reset();
      for (const r of this.#realities.values()) {
        this.#metrics.realityQueued.labels(r.id).set(r.queued());
      }
    });
  }

  /**
   * Spans of a pulse's path (`--otel-endpoint`); undefined: tracing off, and publish pays
   * one check for it.
   */
  tracer: PulseTracer | undefined;

  /** Installs or replaces the guard (CASIL policy chain). */
  setGuard(guard: PulseGuard | undefined): void {
    this.#guard = guard;
  }

  /** Installs the durable log. */
  setLog(log: PulseLog | undefined): void {
    this.#log = log;
  }

  /**
   * Makes this Spine a cluster node's (`--cluster`): pulses are sequenced and fanned out
   * by the fabric, and come back through `deliver`. Set before the first reality is used.
   */
  setFabric(fabric: PulseFabric | undefined): void {
    this.#fabric = fabric;
  }

  /** The cluster fabric, if any. */
  get fabric(): PulseFabric | undefined {
    return this.#fabric;
  }

  /**
   * A pulse the fabric sequenced (on this node or another), in the reality's sequence
   * order: logged and routed to this node's subscribers. Sequences at or below the
   * reality's last one were seen already and are skipped (a consumer replaying after a
   * reset). Returns whether it was taken.
   */
  deliver(stamped: StampedPulse): boolean {
    const pulse = stamped.pulse;
    const reality = this.reality(pulse.realityId || DEFAULT_REALITY);
    const seq = pulse.sequence ?? 0;
    if (seq <= reality.sequence) return false;
    reality.sequence = seq;
    reality.published++;
    if (pulse.timestamp) this.#clock.observe(pulse.timestamp);
    if (this.#log) {
      stamped.committed = this.#log.append([stamped]);
      // A local log failure is this node's history only: the pulse is stored in the cluster.
      stamped.committed.catch(() => {});
    }
    this.#adoptInbox(pulse.replyTo);
    // Queue groups span the nodes: the fabric hands their pulses to `deliverToGroup`.
    this.#route(reality, stamped, false);
    return true;
  }

  /**
   * A pulse the fabric gives this node's members of queue group `group` (each pulse goes
   * to one member cluster-wide). Returns false when no member of it is here any more (the
   * fabric gives it to another node).
   */
  deliverToGroup(stamped: StampedPulse, group: string): boolean {
    const pulse = stamped.pulse;
    const reality = this.reality(pulse.realityId || DEFAULT_REALITY);
    const route = reality.route(pulse.topic!);
    const members = route.groups.find((m) => m[0]?.spec.queueGroup === group);
    if (!members) return false;
    const accepts = route.filtered ? spectralAcceptor(pulse.spectral) : undefined;
    const member = reality.pick(members, stamped.size, accepts);
    if (!member) return false;
    this.#adoptInbox(pulse.replyTo)?.add(member.owner);
    member.offer(stamped);
    return true;
  }

  /** Whether any subscriber (on any node of a cluster) would receive `topic`. */
  async hasResponders(realityId: string, topic: string): Promise<boolean> {
    if (this.hasSubscribers(realityId, topic)) return true;
    return await (this.#fabric?.hasInterest(realityId || DEFAULT_REALITY, topic) ?? false);
  }

  // A request sequenced through the cluster: whoever it reaches here may answer it.
  #adoptInbox(replyTo: string | null | undefined) {
    if (!replyTo || !isInboxTopic(replyTo)) return undefined;
    return this.inboxes.responders(replyTo) ?? this.inboxes.adopt(replyTo);
  }

  /** Installs the control parameters that `sys.control.set` pulses change. */
  setControl(control: ControlParams | undefined): void {
    this.#control = control;
  }

  /** The durable log, if any. */
  get log(): PulseLog | undefined {
    return this.#log;
  }

  /** Returns a reality, creating it (continuing the log's sequence) on first use. */
  reality(id: string): Reality {
    let r = this.#realities.get(id);
    if (!r) {
      const err = realityError(id);
      if (err) throw new BusError("INVALID_ARGUMENT", err);
      this.#admitNewReality(id);
      r = new Reality(id, this.#log?.lastSequence(id) ?? 0);
      // History time queries rely on wall time growing with the sequence, also across a
      // restart with a clock that stepped back.
      const lastWall = this.#log?.lastWallMs?.(id) ?? 0;
      if (lastWall > 0) this.#clock.observe({ wallMs: lastWall, logical: 0 });
      this.#realities.set(id, r);
      this.#fabric?.open(id, r.sequence);
    }
    return r;
  }

  /**
   * The last sequence a reality reached on this node (0 when it is not in memory); reading
   * it creates nothing. Causal gates compare dependencies with it.
   */
  sequenceOf(id: string): number {
    return this.#realities.get(id)?.sequence ?? 0;
  }

  /** Whether a reality exists, in memory or in the log (using it creates nothing). */
  hasReality(id: string): boolean {
    return this.#realities.has(id) || (this.#log?.hasReality?.(id) ?? false);
  }

  // Every reality costs memory, a /metrics series and restart time: they are bounded.
  // Counting is exact only near the bound (realities of the log and of memory overlap).
  #admitNewReality(id: string): void {
    const max = this.#maxRealities;
    const log = this.#log;
    const inLog = log?.realityCount?.() ?? 0;
    if (this.#realities.size + inLog < max) return;
    if (log?.hasReality?.(id)) return;
    let total = inLog;
    for (const known of this.#realities.keys()) {
      if (!(log?.hasReality?.(known) ?? false)) total++;
    }
    if (total < max) return;
    this.#metrics.limitHits.labels("max_realities").inc();
    throw new BusError(
      "QUOTA_EXCEEDED",
      `the node holds its maximum of ${max} realities; "${id}" cannot be created`,
    );
  }

  /**
   * The lane a reality's rules give `topic` (0: no rule). A connection's default lane
   * applies only where this is 0.
   */
  laneRuleFor(realityId: string, topic: string): number {
    return this.#realities.get(realityId || DEFAULT_REALITY)?.laneRules?.laneFor(topic) ??
      LANE_UNSPECIFIED;
  }

  /** Realities that exist in memory. */
  realities(): Reality[] {
    return [...this.#realities.values()];
  }

  /** Live subscriptions across realities. */
  get subscriptionCount(): number {
    return this.#subscriptionCount;
  }

  /**
   * Accepts one pulse from `producerId`: validates, runs the guard, stamps and routes it.
   * Synchronous unless the guard answers asynchronously. Throws `BusError` on refusal.
   * `source` is the producer's protobuf encoding of `input`, reused for deliveries.
   * `span` is set by the Spine itself when tracing (`--otel-endpoint`); callers leave it out.
   * With `anycast`, the pulse goes only to the nearest anycast subscribers of its topic
   * (NO_RESPONDERS when none qualifies; nothing is sequenced then). `unacked`: nobody
   * waits for this pulse's acknowledgement (a cluster node then sends it to its stream
   * without waiting for JetStream's ack either).
   */
  publish(
    input: IPulse,
    producerId: string,
    source?: Uint8Array,
    span?: PulseSpan,
    anycast?: AnycastTarget | null,
    unacked = false,
  ): StampedPulse | Promise<StampedPulse> {
    // Tracing on: the same path again inside a publish span (kept out of line).
    if (span === undefined && this.tracer !== undefined) {
      return this.#traced(this.tracer, input, producerId, source, anycast, unacked);
    }
    const topic = input.topic ?? "";
    if (!this.#topicOk.has(topic)) {
      const err = topicError(topic);
      if (err) throw new BusError("INVALID_TOPIC", err);
      // sys.presence.* is the node's to publish; never cached, so each publish is checked
      // here while other topics keep their one Set lookup.
      if (isPresenceTopic(topic)) {
        throw new BusError("FORBIDDEN", `"${topic}": sys.presence.* is published by the node`);
      } else {
        if (this.#topicOk.size > 100_000) this.#topicOk.clear();
        this.#topicOk.add(topic);
      }
    }
    if (input.spectral) {
      const err = spectralError(input.spectral);
      if (err) throw new BusError("INVALID_ARGUMENT", err);
    }
    // Vector clocks: a producer that reports none pays this one check (decoded pulses
    // carry an empty map).
    if (input.vclock && hasEntries(input.vclock)) {
      if (this.#vclock) checkReportedClock(input);
      else {
        input.vclock = undefined;
        source = undefined;
      }
    }
    const reality = this.reality(input.realityId || DEFAULT_REALITY);
    // Lanes: a pulse naming none pays one check here while its reality has no lane rules.
    if (input.lane) checkLane(input.lane);
    else if (reality.laneRules) input.lane = reality.laneRules.laneFor(topic);
    const query = anycast ? this.anycast.query(reality.id, anycast) : undefined;
    // SAM: a producer without a card pays this one Map lookup.
    this.agents.checkPublish(input, producerId, reality.id);
    // Latency histograms: one pulse in LATENCY_SAMPLE_EVERY reads the clock.
    const t0 = (++this.#publishCount & (LATENCY_SAMPLE_EVERY - 1)) === 0 ? performance.now() : 0;
    const guard = this.#guard;
    if (!guard) {
      return this.#accept(reality, input, producerId, undefined, source, t0, span, query, unacked);
    }
    // The guard sees the pulse as it will be stamped (reality and producer resolved); no
    // copy, since #accept overwrites the same fields anyway.
    input.realityId = reality.id;
    input.producerId = producerId;
    const policySpan = span ? this.tracer!.child(span, "arqon.policies") : undefined;
    let verdict: GuardVerdict | Promise<GuardVerdict>;
    try {
      verdict = guard.inspect(input);
    } catch (err) {
      policySpan?.end();
      throw new BusError("POLICY_DENIED", `policy failed: ${(err as Error).message}`);
    }
    if (verdict instanceof Promise) {
      return verdict.then(
        (v) => {
          policySpan?.end();
          if (t0) this.#policyTimed(reality.id, t0);
          return this.#accept(reality, input, producerId, v, source, t0, span, query, unacked);
        },
        (err) => {
          policySpan?.end();
          throw new BusError("POLICY_DENIED", `policy failed: ${(err as Error).message}`);
        },
      );
    }
    policySpan?.end();
    if (t0) this.#policyTimed(reality.id, t0);
    return this.#accept(reality, input, producerId, verdict, source, t0, span, query, unacked);
  }

  /**
   * Delivers a presence event to its subscribers: stamped with an id, time and producer
   * but no sequence, neither logged nor guarded. Presence is soft state (the listing is
   * the truth), and a reconnect storm must not write the log nor shift the sequences
   * that resumes count on.
   */
  #announce(pulse: IPulse, producerId: string): void {
    const reality = this.#realities.get(pulse.realityId || DEFAULT_REALITY);
    if (!reality) return;
    pulse.id = this.#ids.next();
    pulse.sequence = 0;
    pulse.realityId = reality.id;
    pulse.producerId = producerId;
    pulse.timestamp = this.#clock.tick();
    this.#route(reality, new StampedPulse(pulse));
  }

  #traced(
    tracer: PulseTracer,
    input: IPulse,
    producerId: string,
    source: Uint8Array | undefined,
    anycast: AnycastTarget | null | undefined,
    unacked: boolean,
  ): StampedPulse | Promise<StampedPulse> {
    const span = tracer.publish(input.traceContext, input.topic ?? "", input.realityId || "");
    const failed = (err: unknown) => {
      span.setStatus({ code: 2, message: (err as Error).message }).end();
      throw err;
    };
    try {
      const result = this.publish(input, producerId, source, span, anycast, unacked);
      if (result instanceof Promise) {
        return result.then((stamped) => {
          span.end();
          return stamped;
        }, failed);
      }
      span.end();
      return result;
    } catch (err) {
      return failed(err);
    }
  }

  #policyTimed(realityId: string, t0: number): void {
    this.#metrics.policyEval.labels(realityId).observe((performance.now() - t0) / 1000);
  }

  #accept(
    reality: Reality,
    input: IPulse,
    producerId: string,
    verdict: GuardVerdict | undefined,
    source: Uint8Array | undefined,
    t0: number,
    span: PulseSpan | undefined,
    query?: AnycastQuery,
    unacked = false,
  ): StampedPulse {
    if (verdict && !verdict.allow) {
      throw new BusError(verdict.code, verdict.reason);
    }
    // Chosen before sequencing, after the guard: no match costs no sequence number, and
    // whoever left while a policy ran is not chosen.
    const chosen = query ? this.anycast.choose(reality, input.topic!, query) : undefined;
    const fabric = chosen ? undefined : this.#fabric;
    if (fabric) fabric.admit(reality.id);
    const sequenceSpan = span ? this.tracer!.child(span, "arqon.sequence") : undefined;
    const pulse: IPulse = input;
    if (verdict?.payload) pulse.payload = verdict.payload;
    // Checked, persisted and audited before the pulse takes its sequence: a refused change
    // is a typed error and costs no sequence number.
    if (this.#control && pulse.topic === CONTROL_SET_TOPIC) {
      this.#control.apply(reality.id, reality.sequence + 1, producerId, pulse.payload ?? EMPTY);
    }
    // Operator outputs and replayed inputs keep the id and time derived for them (entropy.ts).
    const derived = bringsDerivedStamp(producerId, pulse);
    if (!derived) pulse.id = this.#ids.next();
    // A cluster node's sequence is the fabric's (the stream's), known once it is stored;
    // an anycast pulse there goes to this node's chosen subscribers only, unsequenced.
    pulse.sequence = this.#fabric ? 0 : ++reality.sequence;
    pulse.realityId = reality.id;
    pulse.producerId = producerId;
    if (!derived) pulse.timestamp = this.#clock.tick();
    const seeded = stampEntropy(pulse, reality.id, pulse.sequence);
    if (this.#vclock) pulse.vclock = stampedClock(pulse.vclock, reality.id, pulse.sequence);
    // Semantic trace: this hop's topic rides in the stamp after the producer's bytes,
    // unless the chain had to be cut (then the pulse is encoded afresh).
    const appended = appendHop(pulse, pulse.topic!);
    const stamped = new StampedPulse(pulse, verdict?.payload || !appended ? undefined : source);
    stamped.hop = pulse.topic!;
    // A derived seed is not in the producer's bytes either: the stamp carries it.
    stamped.seeded = seeded || derived;
    stamped.sampledAt = t0;
    if (fabric) {
      // Logged and routed when it comes back through `deliver`, on every node alike.
      stamped.committed = fabric.publish(pulse, stamped.bytes, unacked).then((seq) => {
        pulse.sequence = seq;
      });
      sequenceSpan?.end();
      return stamped;
    }
    reality.published++;
    if (this.#log && !this.#fabric) stamped.committed = this.#log.append([stamped]);
    if (span) {
      sequenceSpan!.end();
      this.tracer!.attach(stamped, span);
    }
    if (chosen) this.anycast.route(stamped, chosen, this.inboxes);
    else this.#route(reality, stamped);
    return stamped;
  }

  #route(reality: Reality, stamped: StampedPulse, groups = true): void {
    const route = reality.route(stamped.pulse.topic!);
    // A request: whoever it reaches may answer on its inbox (and nobody else).
    const replyTo = stamped.pulse.replyTo;
    const responders = replyTo ? this.inboxes.responders(replyTo) : undefined;
    // Spectral filters are looked at only on routes that have one.
    const accepts = route.filtered ? spectralAcceptor(stamped.pulse.spectral) : undefined;
    for (const sub of route.direct) {
      if (accepts && !accepts(sub)) continue;
      responders?.add(sub.owner);
      sub.offer(stamped);
    }
    if (!groups) return;
    for (const members of route.groups) {
      const member = reality.pick(members, stamped.size, accepts);
      if (!member) continue;
      responders?.add(member.owner);
      member.offer(stamped);
    }
  }

  /** Opens a subscription owned by `owner`. Throws `BusError` on an invalid pattern or reality. */
  subscribe(owner: SubscriptionOwner, input: SubscribeInput): Subscription {
    const err = patternError(input.pattern);
    if (err) throw new BusError("INVALID_PATTERN", err);
    if (input.queueGroup && realityError(input.queueGroup)) {
      throw new BusError(
        "INVALID_ARGUMENT",
        "queue group must match [a-z0-9_-]+, at most 64 bytes",
      );
    }
    const reality = this.reality(input.realityId || DEFAULT_REALITY);
    const spec: SubscriptionSpec = {
      id: input.id,
      realityId: reality.id,
      pattern: input.pattern,
      queueGroup: input.queueGroup ?? "",
      overflow: input.overflow ?? this.#queue.overflow,
      maxMessages: capped(input.maxMessages, this.#queue.maxMessages),
      maxBytes: capped(input.maxBytes, this.#queue.maxBytes),
      maxInFlight: input.maxInFlight ?? 0,
      spectralFilter: input.spectralFilter,
    };
    const dropCounters = {
      drop_oldest: this.#metrics.dropped.labels(reality.id, "drop_oldest"),
      drop_new: this.#metrics.dropped.labels(reality.id, "drop_new"),
    };
    const laneDropped = this.#metrics.laneDropped;
    const sub = new Subscription(spec, owner, (reason, n, lane) => {
      dropCounters[reason].inc(n);
      laneDropped.labels(reality.id, LANE_NAMES[lane || 1], reason).inc(n);
    });
    // Registered before the trie takes it: a refused registration leaves nothing behind.
    if (input.anycast) this.anycast.register(sub, input.anycast);
    reality.add(sub);
    this.#fabric?.subscribed(spec);
    this.#subscriptionCount++;
    this.#metrics.subscriptions.set(this.#subscriptionCount);
    return sub;
  }

  /** Closes a subscription and discards what it still queued. */
  unsubscribe(sub: Subscription): void {
    if (sub.closed) return;
    sub.closed = true;
    sub.clear();
    this.#realities.get(sub.spec.realityId)?.remove(sub);
    this.#fabric?.unsubscribed(sub.spec);
    this.anycast.unregister(sub);
    this.#subscriptionCount--;
    this.#metrics.subscriptions.set(this.#subscriptionCount);
  }

  /** Whether any subscription in `realityId` would receive `topic`. */
  hasSubscribers(realityId: string, topic: string): boolean {
    const route = this.reality(realityId || DEFAULT_REALITY).route(topic);
    return route.direct.length > 0 || route.groups.length > 0;
  }
}

/** Whether a subscription takes a pulse with `spectral` (subscriptions without a filter do). */
function spectralAcceptor(
  spectral: ISpectral | null | undefined,
): (sub: Subscription) => boolean {
  return (sub) => sub.spec.spectralFilter === undefined || sub.spec.spectralFilter.test(spectral);
}

/** A client-chosen bound: unset (0) takes the node's, and none may exceed it. */
function capped(asked: number | undefined, node: number): number {
  return asked && asked > 0 ? Math.min(asked, node) : node;
}
