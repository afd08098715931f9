/**
 * A pulse the Spine has accepted: stamped with id, sequence and time. Its protobuf
 * encoding is made at most once and shared by every subscriber that receives it.
 * @module
 */
import { encodePulse, type IPulse, pulseToJsonObject } from "../protocol/mod.ts";

// Envelope overhead counted against queue byte limits on top of payload and topic.
const ENVELOPE_BYTES = 96;

/** An accepted pulse; lives while any queue or log batch still holds it. */
export class StampedPulse {
  /** The stamped pulse (id, sequence, timestamp, producer set). */
  readonly pulse: IPulse;
  /** Approximate encoded size, used for queue byte limits. */
  readonly size: number;
  /** Resolves when the durable log has committed the pulse; `null` without a log. */
  committed: Promise<void> | null = null;
  #bytes: Uint8Array | null = null;
  #json: Record<string, unknown> | null = null;

  /** Wraps a pulse that has been stamped. */
  constructor(pulse: IPulse) {
    this.pulse = pulse;
    this.size = (pulse.payload?.length ?? 0) + (pulse.topic?.length ?? 0) + ENVELOPE_BYTES;
  }

  /** The pulse encoded as protobuf, computed on first use. */
  get bytes(): Uint8Array {
    return this.#bytes ??= encodePulse(this.pulse);
  }

  /** The pulse in the canonical JSON mapping, computed on first use. */
  get json(): Record<string, unknown> {
    return this.#json ??= pulseToJsonObject(this.pulse);
  }
}
