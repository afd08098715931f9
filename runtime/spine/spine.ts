/**
 * The Spine: validates, guards, stamps and routes every pulse. It knows nothing of
 * sockets; sessions (WebSocket, shm, HTTP) call `publish` and own `Subscription`s.
 * This file wires the parts (checks, realities, stamping, routing) and sequences.
 * @module
 */
import { BusError, type IPulse } from "../protocol/mod.ts";
import {
  LATENCY_SAMPLE_EVERY,
  type NodeMetrics,
  type PulseSpan,
  type PulseTracer,
} from "../telemetry/mod.ts";
import { HybridClock } from "../time/mod.ts";
import type { GuardVerdict, PulseFabric, PulseGuard, PulseLog } from "./ports.ts";
import { AgentDirectory } from "./agents.ts";
import { isInboxTopic, PendingInboxes } from "./inbox.ts";
import type { PresenceBoard } from "./presence.ts";
import { wirePresence } from "./presence_events.ts";
import { CONTROL_SET_TOPIC, type ControlParams } from "./control_params.ts";
import type { Reality } from "./reality.ts";
import { type AnycastQuery, type AnycastTarget, SpineAnycast } from "./anycast_route.ts";
import type { StampedPulse } from "./stamped.ts";
import { checkLane } from "./lanes.ts";
import type { Subscription, SubscriptionOwner } from "./subscription.ts";
import {
  DEFAULT_REALITY,
  type QueueDefaults,
  type SpineOptions,
  type SubscribeInput,
} from "./spine_options.ts";
import { RealityTable } from "./reality_table.ts";
import { PublishChecks } from "./publish_checks.ts";
import { PulseStamper } from "./stamping.ts";
import { pickGroupMember, routePulse } from "./routing.ts";
import { tracedPublish } from "./traced_publish.ts";
import { isReplayed } from "./entropy.ts";
import { checkSubscribeInput, newSubscription } from "./subscribe.ts";

const EMPTY = new Uint8Array(0);

/** The Spine of one node. */
export class Spine {
  readonly #realities: RealityTable;
  readonly #metrics: NodeMetrics;
  readonly #clock = new HybridClock();
  readonly #stamper: PulseStamper;
  readonly #checks: PublishChecks;
  readonly #queue: QueueDefaults;
  #guard: PulseGuard | undefined;
  #log: PulseLog | undefined;
  #fabric: PulseFabric | undefined;
  #control: ControlParams | undefined;
  #subscriptionCount = 0;
  #publishCount = 0;
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
    const vclock = options.vclock ?? true;
    this.#realities = new RealityTable(
      options.metrics,
      this.#clock,
      options.maxRealities || Infinity,
    );
    this.#stamper = new PulseStamper(this.#clock, vclock);
    this.#checks = new PublishChecks(vclock);
    this.#queue = options.queue;
    this.#guard = options.guard;
    this.#log = options.log;
    this.#realities.log = options.log;
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

  /**
   * How many publishes of a received message a session holds for the guard to decide
   * together (`inspectAhead`); 0 when the guard decides pulse by pulse.
   */
  get aheadLimit(): number {
    const guard = this.#guard;
    return guard?.inspectAhead ? guard.aheadLimit ?? 1 : 0;
  }

  /**
   * Has the guard decide `pulses[0..count)` (one message's publishes, in order, from
   * `producerId`) together, then runs `publish`, which publishes them (or refuses some
   * before the guard: their decisions are simply not used); the guard forgets them after.
   */
  publishAhead(
    pulses: readonly IPulse[],
    count: number,
    producerId: string,
    publish: () => void,
  ): void {
    const guard = this.#guard;
    if (!guard?.inspectAhead) return publish();
    try {
      guard.inspectAhead(pulses, count, producerId);
    } catch {
      // Nothing decided ahead: each pulse is inspected alone (fail-closed as always).
      guard.clearAhead?.();
      return publish();
    }
    try {
      publish();
    } finally {
      guard.clearAhead?.();
    }
  }

  /** Installs the durable log. */
  setLog(log: PulseLog | undefined): void {
    this.#log = log;
    this.#realities.log = log;
  }

  /**
   * Makes this Spine a cluster node's (`--cluster`): pulses are sequenced and fanned out
   * by the fabric, and come back through `deliver`. Set before the first reality is used.
   */
  setFabric(fabric: PulseFabric | undefined): void {
    this.#fabric = fabric;
    this.#realities.fabric = fabric;
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
    routePulse(reality, stamped, this.inboxes, false);
    return true;
  }

  /**
   * A pulse the fabric gives this node's members of queue group `group` (each pulse goes
   * to one member cluster-wide). Returns false when no member of it is here any more (the
   * fabric gives it to another node).
   */
  deliverToGroup(stamped: StampedPulse, group: string): boolean {
    const reality = this.reality(stamped.pulse.realityId || DEFAULT_REALITY);
    const member = pickGroupMember(reality, stamped, group);
    if (!member) return false;
    this.#adoptInbox(stamped.pulse.replyTo)?.add(member.owner);
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
    return this.#realities.get(id);
  }

  /**
   * The last sequence a reality reached on this node (0 when it is not in memory); reading
   * it creates nothing. Causal gates compare dependencies with it.
   */
  sequenceOf(id: string): number {
    return this.#realities.peek(id)?.sequence ?? 0;
  }

  /** Whether a reality exists, in memory or in the log (using it creates nothing). */
  hasReality(id: string): boolean {
    return this.#realities.has(id);
  }

  /**
   * The lane a reality's rules give `topic` (0: no rule). A connection's default lane
   * applies only where this is 0.
   */
  laneRuleFor(realityId: string, topic: string): number {
    return this.#realities.laneRuleFor(realityId, topic);
  }

  /**
   * Forgets a reality that was deleted (its state in memory: sequence, routes); false while
   * it still has subscriptions (they keep it). A replay drops its scratch reality so.
   */
  forgetReality(id: string): boolean {
    return this.#realities.forget(id);
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
      return tracedPublish(
        this.tracer,
        input,
        (s) => this.publish(input, producerId, source, s, anycast, unacked),
      );
    }
    if (!this.#checks.check(input)) source = undefined;
    const reality = this.reality(input.realityId || DEFAULT_REALITY);
    // Lanes: a pulse naming none pays one check here while its reality has no lane rules.
    if (input.lane) checkLane(input.lane);
    else if (reality.laneRules) input.lane = reality.laneRules.laneFor(input.topic!);
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
    const reality = this.#realities.peek(pulse.realityId || DEFAULT_REALITY);
    if (!reality) return;
    routePulse(
      reality,
      this.#stamper.stampUnsequenced(pulse, reality.id, producerId),
      this.inboxes,
    );
  }

  #policyTimed(realityId: string, t0: number): void {
    this.#metrics.policyEval.labels(realityId).observe((performance.now() - t0) / 1000);
  }

  #accept(
    reality: Reality,
    pulse: IPulse,
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
    const chosen = query ? this.anycast.choose(reality, pulse.topic!, query) : undefined;
    const fabric = chosen ? undefined : this.#fabric;
    if (fabric) fabric.admit(reality.id);
    const sequenceSpan = span ? this.tracer!.child(span, "arqon.sequence") : undefined;
    if (verdict?.payload) pulse.payload = verdict.payload;
    // Checked, persisted and audited before the pulse takes its sequence: a refused change
    // is a typed error and costs no sequence number.
    if (this.#control && pulse.topic === CONTROL_SET_TOPIC) {
      this.#control.apply(
        reality.id,
        reality.sequence + 1,
        producerId,
        pulse.payload ?? EMPTY,
        isReplayed(pulse),
      );
    }
    // A cluster node's sequence is the fabric's (the stream's), known once it is stored;
    // an anycast pulse there goes to this node's chosen subscribers only, unsequenced.
    const sequence = this.#fabric ? 0 : ++reality.sequence;
    const stamped = this.#stamper.stamp(
      pulse,
      reality.id,
      producerId,
      sequence,
      source,
      !!verdict?.payload,
      t0,
    );
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
    else routePulse(reality, stamped, this.inboxes);
    return stamped;
  }

  /** Opens a subscription owned by `owner`. Throws `BusError` on an invalid pattern or reality. */
  subscribe(owner: SubscriptionOwner, input: SubscribeInput): Subscription {
    checkSubscribeInput(input);
    const reality = this.reality(input.realityId || DEFAULT_REALITY);
    const sub = newSubscription(owner, input, reality.id, this.#queue, this.#metrics);
    // Registered before the trie takes it: a refused registration leaves nothing behind.
    if (input.anycast) this.anycast.register(sub, input.anycast);
    reality.add(sub);
    this.#fabric?.subscribed(sub.spec);
    this.#subscriptionCount++;
    this.#metrics.subscriptions.set(this.#subscriptionCount);
    return sub;
  }

  /** Closes a subscription and discards what it still queued. */
  unsubscribe(sub: Subscription): void {
    if (sub.closed) return;
    sub.closed = true;
    sub.clear();
    this.#realities.peek(sub.spec.realityId)?.remove(sub);
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
