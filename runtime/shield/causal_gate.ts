/**
 * The causal gate of one session (docs/time.md "Vector clocks"): across the connection's
 * causal subscriptions (`Subscribe.order = DELIVERY_ORDER_CAUSAL`), a pulse is delivered
 * only after every pulse it causally depends on that one of them matches.
 *
 * A pulse P of reality R depends on every pulse of reality X with a sequence up to
 * `P.vclock[X]`, and on the pulses of R before it. On one node a pulse is routed to every
 * subscription it matches when it is sequenced, so a dependency (X, n) is still on its way
 * to this subscriber exactly while X has not reached sequence n yet, or a causal
 * subscription in X holds (queued, still being replayed from the log, or here) a pulse of
 * sequence n or lower. While one is, P
 * waits here; past its subscription's timeout a CAUSAL_GAP error names the dependency and
 * P is delivered anyway. The gate holds a bounded number of pulses and bytes: past either
 * bound the oldest held pulse goes out at once, with a CAUSAL_GAP error saying why.
 * @module
 */
import type { StampedPulse, Subscription } from "../spine/mod.ts";

/** Default of `Subscribe.causal_timeout_ms` (0 takes it). */
export const CAUSAL_TIMEOUT_DEFAULT_MS = 5000;
/** Largest accepted `Subscribe.causal_timeout_ms`. */
export const CAUSAL_TIMEOUT_MAX_MS = 60_000;

/** How a gate releases a pulse: delivered, with the CAUSAL_GAP message when it is late. */
export type CausalEmit = (sub: Subscription, pulse: StampedPulse, gap?: string) => void;

/** The bounds and the view of the node a gate works with. */
export interface CausalGateContext {
  /** The last sequence a reality reached (the Spine's). */
  readonly sequenceOf: (realityId: string) => number;
  /** Pulses held at most (per connection). */
  readonly maxHeld: number;
  /** Bytes held at most (per connection). */
  readonly maxHeldBytes: number;
  /** Counted each time a bound makes the gate let a pulse go early. */
  readonly onBound: () => void;
}

interface Held {
  readonly pulse: StampedPulse;
  readonly deadline: number;
}

/** One causal subscription's state: its timeout and the pulses it holds, in order. */
interface CausalSub {
  readonly sub: Subscription;
  readonly timeoutMs: number;
  readonly held: Held[];
  /** Index of the first pulse still held (the array is compacted now and then). */
  head: number;
}

/** The gate of one session; holds nothing until a causal subscription is registered. */
export class CausalGate {
  readonly #ctx: CausalGateContext;
  readonly #subs = new Map<Subscription, CausalSub>();
  readonly #byReality = new Map<string, CausalSub[]>();
  #count = 0;
  #bytes = 0;

  /** Creates an empty gate. */
  constructor(ctx: CausalGateContext) {
    this.#ctx = ctx;
  }

  /** Pulses held now. */
  get held(): number {
    return this.#count;
  }

  /** Bytes held now (the pulses' approximate sizes). */
  get heldBytes(): number {
    return this.#bytes;
  }

  /** The earliest deadline of a held pulse (Infinity when none). */
  get nextDeadline(): number {
    let min = Infinity;
    for (const c of this.#subs.values()) {
      if (c.head < c.held.length) min = Math.min(min, c.held[c.head].deadline);
    }
    return min;
  }

  /** Makes `sub` causal, waiting at most `timeoutMs` for a missing dependency. */
  add(sub: Subscription, timeoutMs: number): void {
    const c: CausalSub = { sub, timeoutMs, held: [], head: 0 };
    this.#subs.set(sub, c);
    const list = this.#byReality.get(sub.spec.realityId);
    if (list) list.push(c);
    else this.#byReality.set(sub.spec.realityId, [c]);
  }

  /** Whether `sub` is causal. */
  has(sub: Subscription): boolean {
    return this.#subs.has(sub);
  }

  /** Forgets a subscription that ended, with what it held. */
  forget(sub: Subscription): void {
    const c = this.#subs.get(sub);
    if (!c) return;
    for (let i = c.head; i < c.held.length; i++) {
      this.#count--;
      this.#bytes -= c.held[i].pulse.size;
    }
    this.#subs.delete(sub);
    const list = this.#byReality.get(sub.spec.realityId)!;
    list.splice(list.indexOf(c), 1);
    if (list.length === 0) this.#byReality.delete(sub.spec.realityId);
  }

  /**
   * A pulse taken from a subscription: true when the gate keeps it (it is released later
   * through `emit`), false when it goes out now. A subscription that is not causal, or a
   * pulse without a clock, passes. Past a bound, the oldest held pulse is emitted first.
   */
  admit(sub: Subscription, pulse: StampedPulse, now: number, emit: CausalEmit): boolean {
    const c = this.#subs.get(sub);
    if (c === undefined) return false;
    // Behind a held pulse of the same subscription: its order is kept.
    if (c.head === c.held.length && this.#missing(pulse) === undefined) return false;
    c.held.push({ pulse, deadline: now + c.timeoutMs });
    this.#count++;
    this.#bytes += pulse.size;
    while (this.#count > this.#ctx.maxHeld || this.#bytes > this.#ctx.maxHeldBytes) {
      this.#ctx.onBound();
      const oldest = this.#oldest()!;
      this.#release(
        oldest,
        emit,
        `the connection's causal gate holds at most ${this.#ctx.maxHeld} pulses and ` +
          `${this.#ctx.maxHeldBytes} bytes`,
      );
    }
    return true;
  }

  /**
   * Emits every held pulse whose dependencies have arrived, and those whose deadline
   * passed (with a CAUSAL_GAP message naming what they missed), until none moves.
   */
  release(now: number, emit: CausalEmit): void {
    if (this.#count === 0) return;
    let moved = true;
    while (moved) {
      moved = false;
      for (const c of this.#subs.values()) {
        while (c.head < c.held.length) {
          const h = c.held[c.head];
          const missing = this.#missing(h.pulse);
          if (missing !== undefined && h.deadline > now) break;
          this.#release(
            c,
            emit,
            missing === undefined ? undefined : `waited ${c.timeoutMs} ms for ${missing}`,
          );
          moved = true;
        }
      }
    }
  }

  #release(c: CausalSub, emit: CausalEmit, why: string | undefined): void {
    const h = c.held[c.head];
    c.held[c.head] = undefined as unknown as Held;
    c.head++;
    if (c.head === c.held.length) {
      c.held.length = 0;
      c.head = 0;
    } else if (c.head > 1024 && c.head * 2 > c.held.length) {
      c.held.splice(0, c.head);
      c.head = 0;
    }
    this.#count--;
    this.#bytes -= h.pulse.size;
    const p = h.pulse.pulse;
    let gap: string | undefined;
    if (why !== undefined) {
      const missing = this.#missing(h.pulse);
      gap = `causal gap: pulse ${p.realityId}:${p.sequence} (subscription ${c.sub.spec.id}) ` +
        `delivered without ${missing ?? "its dependencies"}: ${why}`;
    }
    emit(c.sub, h.pulse, gap);
  }

  // The subscription whose first held pulse has waited longest.
  #oldest(): CausalSub | undefined {
    let best: CausalSub | undefined;
    for (const c of this.#subs.values()) {
      if (c.head === c.held.length) continue;
      if (!best || c.held[c.head].deadline < best.held[best.head].deadline) best = c;
    }
    return best;
  }

  /** The first dependency of `stamped` still on its way ("reality:sequence"), if any. */
  #missing(stamped: StampedPulse): string | undefined {
    const p = stamped.pulse;
    const own = p.realityId ?? "";
    const seq = p.sequence ?? 0;
    // The pulses of its own reality before it, held or queued for another causal
    // subscription of this connection.
    if (this.#pending(own, seq - 1)) return `${own}:${seq - 1}`;
    const clock = p.vclock;
    if (!clock) return undefined;
    for (const x in clock) {
      if (x === own) continue;
      const n = clock[x];
      if (!this.#byReality.has(x)) continue;
      if (this.#ctx.sequenceOf(x) < n || this.#pending(x, n)) return `${x}:${n}`;
    }
    return undefined;
  }

  // Whether a causal subscription in `reality` holds a pulse of sequence `n` or lower.
  #pending(reality: string, n: number): boolean {
    const list = this.#byReality.get(reality);
    if (list === undefined || n <= 0) return false;
    for (const c of list) {
      if (c.head < c.held.length && (c.held[c.head].pulse.pulse.sequence ?? 0) <= n) return true;
      if (c.sub.headSequence() <= n) return true;
      // History still being read from the log may hold it.
      if (c.sub.replaying) return true;
    }
    return false;
  }
}
