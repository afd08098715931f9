/**
 * Assembles a `Frame{batch}` from frames that are already encoded, and `Deliver` frames
 * from a pulse encoded once. Fan-out encodes each pulse a single time, however many
 * subscribers receive it; only the few envelope bytes differ per subscriber.
 * @module
 */
import { varintLength, writeVarint } from "./varint.ts";

// Field keys: (field number << 3) | wire type 2 (length-delimited).
const KEY_BATCH_FRAMES = (1 << 3) | 2; // Batch.frames = 1
const KEY_FRAME_DELIVER = (8 << 3) | 2; // Frame.deliver = 8
const KEY_FRAME_BATCH = (14 << 3) | 2; // Frame.batch = 14
const KEY_DELIVER_SUB = (1 << 3) | 0; // Deliver.subscription_id = 1 (varint)
const KEY_DELIVER_PULSE = (2 << 3) | 2; // Deliver.pulse = 2

/** Encoded size of `Frame{deliver{subscription_id, pulse}}` around `pulseLength` bytes. */
function deliverBodyLength(subscriptionId: number, pulseLength: number): number {
  return 1 + varintLength(subscriptionId) + 1 + varintLength(pulseLength) + pulseLength;
}

/**
 * Collects frames for one outbound transport message. Add frames, then `finish()` once;
 * a builder holding a single frame emits it unwrapped.
 */
export class BatchBuilder {
  #frames: Uint8Array[] = [];
  #tails: (Uint8Array | null)[] = [];
  #subs: number[] = [];
  #lengths: number[] = [];
  #bytes = 0;

  /** Number of frames added so far. */
  get count(): number {
    return this.#frames.length;
  }

  /** Encoded size of the batch body so far (excluding the outer envelope). */
  get byteLength(): number {
    return this.#bytes;
  }

  /** Adds a frame that is already an encoded `Frame`. */
  addFrame(frame: Uint8Array): void {
    this.#frames.push(frame);
    this.#tails.push(null);
    this.#subs.push(-1);
    this.#lengths.push(frame.length);
    this.#bytes += 1 + varintLength(frame.length) + frame.length;
  }

  /**
   * Adds `Frame{deliver{subscriptionId, pulse}}` around an encoded `Pulse`, given as
   * one part or as two parts that concatenate to it (producer bytes + node stamp).
   */
  addDeliver(subscriptionId: number, pulse: Uint8Array, tail: Uint8Array | null = null): void {
    const pulseLength = pulse.length + (tail?.length ?? 0);
    const frameLength = 1 + varintLength(deliverBodyLength(subscriptionId, pulseLength)) +
      deliverBodyLength(subscriptionId, pulseLength);
    this.#frames.push(pulse);
    this.#tails.push(tail);
    this.#subs.push(subscriptionId);
    this.#lengths.push(frameLength);
    this.#bytes += 1 + varintLength(frameLength) + frameLength;
  }

  /** Forgets the collected frames (a message the transport refused). */
  reset(): void {
    this.#frames = [];
    this.#tails = [];
    this.#subs = [];
    this.#lengths = [];
    this.#bytes = 0;
  }

  /** Encodes the collected frames as one `Frame` and resets the builder. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.encodedLength);
    this.finishInto(out);
    return out;
  }

  /** Size of what `finish` returns. */
  get encodedLength(): number {
    const n = this.#frames.length;
    if (n === 1) return this.#lengths[0];
    return 1 + varintLength(this.#bytes) + this.#bytes;
  }

  /**
   * Writes what `finish` would return into `out` at `at` (at least `encodedLength` bytes
   * from there) and resets the builder; lets a transport encode straight into its own
   * write buffer.
   */
  finishInto(out: Uint8Array, at = 0): void {
    const n = this.#frames.length;
    if (n === 1) {
      this.#writeOne(out, at, 0);
    } else {
      const body = this.#bytes;
      out[at] = KEY_FRAME_BATCH;
      let pos = writeVarint(out, at + 1, body);
      for (let i = 0; i < n; i++) {
        out[pos++] = KEY_BATCH_FRAMES;
        pos = writeVarint(out, pos, this.#lengths[i]);
        pos = this.#writeOne(out, pos, i);
      }
    }
    this.reset();
  }

  #writeOne(out: Uint8Array, pos: number, i: number): number {
    const bytes = this.#frames[i];
    const sub = this.#subs[i];
    if (sub < 0) {
      out.set(bytes, pos);
      return pos + bytes.length;
    }
    const tail = this.#tails[i];
    const pulseLength = bytes.length + (tail?.length ?? 0);
    out[pos++] = KEY_FRAME_DELIVER;
    pos = writeVarint(out, pos, deliverBodyLength(sub, pulseLength));
    out[pos++] = KEY_DELIVER_SUB;
    pos = writeVarint(out, pos, sub);
    out[pos++] = KEY_DELIVER_PULSE;
    pos = writeVarint(out, pos, pulseLength);
    out.set(bytes, pos);
    pos += bytes.length;
    if (tail) {
      out.set(tail, pos);
      pos += tail.length;
    }
    return pos;
  }
}
