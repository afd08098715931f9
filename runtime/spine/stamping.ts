/**
 * Stamping an accepted pulse: id (UUIDv7), sequence, reality, producer, HLC time,
 * entropy seed, vector clock and this hop of its semantic trace. Operator outputs and
 * replayed inputs keep the id and time derived for them (entropy.ts).
 * @module
 */
import type { IPulse } from "../protocol/mod.ts";
import { type HybridClock, Uuid7Generator } from "../time/mod.ts";
import { bringsDerivedStamp, stampEntropy } from "./entropy.ts";
import { appendHop } from "./semtrace.ts";
import { StampedPulse } from "./stamped.ts";
import { ownEntryOnly, stampedClock } from "./vclock.ts";

/** Stamps the pulses of one Spine, on the Spine's clock. */
export class PulseStamper {
  readonly #clock: HybridClock;
  readonly #ids = new Uuid7Generator();
  readonly #vclock: boolean;

  /** `vclock`: whether sequenced pulses carry a vector clock. */
  constructor(clock: HybridClock, vclock: boolean) {
    this.#clock = clock;
    this.#vclock = vclock;
  }

  /**
   * Stamps `pulse` in place with `sequence` (0 for a cluster node: the fabric's stream
   * sets it) and wraps it. `source` is the producer's encoding, reused for deliveries
   * unless `fresh` (a policy replaced the payload) or the trace had to be cut.
   * `sampledAt` is the latency sample's start (0: not sampled).
   */
  stamp(
    pulse: IPulse,
    realityId: string,
    producerId: string,
    sequence: number,
    source: Uint8Array | undefined,
    fresh: boolean,
    sampledAt: number,
  ): StampedPulse {
    const derived = bringsDerivedStamp(producerId, pulse);
    if (!derived) {
      // The id carries the HLC tick's wall time: one clock read per pulse.
      const timestamp = this.#clock.tick();
      pulse.timestamp = timestamp;
      pulse.id = this.#ids.next(timestamp.wallMs ?? undefined);
    }
    pulse.sequence = sequence;
    pulse.realityId = realityId;
    pulse.producerId = producerId;
    const seeded = stampEntropy(pulse, realityId, sequence);
    // Most pulses report no dependencies: their clock is their own entry alone, which the
    // stamp encoder writes directly instead of walking the map twice.
    let ownClock = false;
    if (this.#vclock) {
      ownClock = sequence > 0 && ownEntryOnly(pulse.vclock, realityId);
      pulse.vclock = ownClock
        ? { [realityId]: sequence }
        : stampedClock(pulse.vclock, realityId, sequence);
    }
    // Semantic trace: this hop's topic rides in the stamp after the producer's bytes,
    // unless the chain had to be cut (then the pulse is encoded afresh).
    const appended = appendHop(pulse, pulse.topic!);
    const stamped = new StampedPulse(pulse, fresh || !appended ? undefined : source);
    stamped.hop = pulse.topic!;
    // A derived seed is not in the producer's bytes either: the stamp carries it.
    stamped.seeded = seeded || derived;
    stamped.ownClock = ownClock;
    stamped.sampledAt = sampledAt;
    return stamped;
  }

  /**
   * Stamps a node-made event (presence) with an id, time and producer but no sequence:
   * it is neither logged nor guarded.
   */
  stampUnsequenced(pulse: IPulse, realityId: string, producerId: string): StampedPulse {
    pulse.id = this.#ids.next();
    pulse.sequence = 0;
    pulse.realityId = realityId;
    pulse.producerId = producerId;
    pulse.timestamp = this.#clock.tick();
    return new StampedPulse(pulse);
  }
}
