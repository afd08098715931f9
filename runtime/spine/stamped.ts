/**
 * A pulse the Spine has accepted: stamped with id, sequence and time. Its protobuf
 * encoding is made at most once and shared by every subscriber that receives it.
 * @module
 */
import {
  concatBytes,
  encodePulse,
  type IAnycastMatch,
  type IPulse,
  pulseToJsonObject,
  stampSuffix,
} from "../protocol/mod.ts";

// Envelope overhead counted against queue byte limits on top of payload and topic.
const ENVELOPE_BYTES = 96;
// Pulse.lane (field 19, varint): tag 0x98 0x01, then the lane number.
const LANE_FIELD = [0, 1, 2, 3].map((n) => Uint8Array.of(0x98, 0x01, n));

/** An accepted pulse; lives while any queue or log batch still holds it. */
export class StampedPulse {
  /** The stamped pulse (id, sequence, timestamp, producer set). */
  readonly pulse: IPulse;
  /** Approximate encoded size, used for queue byte limits. */
  readonly size: number;
  /** Resolves when the durable log has committed the pulse; `null` without a log. */
  committed: Promise<void> | null = null;
  /**
   * `performance.now()` when a sampled pulse entered the Spine (0: not sampled); read by
   * the latency histograms at ack and delivery time.
   */
  sampledAt = 0;
  /** The pulse's lane as resolved by the Spine (0 or 1: normal, 2 critical, 3 bulk). */
  readonly lane: number;
  /**
   * The `semtrace` entry the node appended (the publish topic): carried by the stamp
   * after the producer's bytes. Empty: the encoding holds the whole chain already.
   */
  hop = "";
  /** The node gave the pulse its entropy seed (not in the producer's bytes: the stamp carries it). */
  seeded = false;
  /**
   * The pulse's vector clock is its own entry alone (`{[realityId]: sequence}`, set when it
   * was stamped so): the stamp encoder writes it without walking the map.
   */
  ownClock = false;
  /**
   * Anycast deliveries: the chosen subscriptions (by identity) with what matched; their
   * `Deliver` frames say so. Undefined for every other pulse.
   */
  anycast: Map<object, IAnycastMatch> | undefined;
  #bytes: Uint8Array | null = null;
  #stamp: Uint8Array | null = null;
  #json: Record<string, unknown> | null = null;
  readonly #source: Uint8Array | undefined;

  /**
   * Wraps a pulse that has been stamped. `source` is the producer's encoding of the
   * pulse as received (before stamping), when the payload was not rewritten since.
   */
  constructor(pulse: IPulse, source?: Uint8Array) {
    this.pulse = pulse;
    this.#source = source;
    this.lane = pulse.lane ?? 0;
    this.size = (pulse.payload?.length ?? 0) + (pulse.topic?.length ?? 0) + ENVELOPE_BYTES;
  }

  /** A pulse read back from the durable log, with the encoding it was stored as. */
  static fromStored(pulse: IPulse, bytes: Uint8Array): StampedPulse {
    const stamped = new StampedPulse(pulse);
    stamped.#bytes = bytes;
    return stamped;
  }

  /** The pulse encoded as protobuf, computed on first use. */
  get bytes(): Uint8Array {
    if (this.#bytes) return this.#bytes;
    const [head, tail] = this.parts;
    this.#bytes = tail ? concatBytes(head, tail) : head;
    return this.#bytes;
  }

  /**
   * The encoding as two parts that concatenate to `bytes`: the producer's bytes and the
   * node's stamp. Writers that copy into a larger buffer use these and skip a copy.
   */
  get parts(): [Uint8Array, Uint8Array | null] {
    if (this.#bytes) return [this.#bytes, null];
    if (!this.#source) {
      this.#bytes = encodePulse(this.pulse);
      return [this.#bytes, null];
    }
    const p = this.pulse;
    if (this.#stamp === null) {
      const stamp = stampSuffix(
        p.id!,
        p.sequence!,
        p.producerId!,
        p.realityId!,
        p.timestamp!,
        this.hop,
        this.seeded ? p.entropySeed as number : 0,
        p.vclock,
        this.ownClock,
      );
      // A lane the node resolved (rule, connection default) is not in the producer's bytes;
      // repeating an explicit one is harmless (proto3: the last value of a field wins).
      this.#stamp = this.lane > 1 ? concatBytes(stamp, LANE_FIELD[this.lane]) : stamp;
    }
    return [this.#source, this.#stamp];
  }

  /** The pulse in the canonical JSON mapping, computed on first use. */
  get json(): Record<string, unknown> {
    return this.#json ??= pulseToJsonObject(this.pulse);
  }
}
