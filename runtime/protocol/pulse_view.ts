/**
 * A delivered pulse decoded on demand. Receivers often read only the payload and the
 * sequence; those two come from one scan over the bytes, without allocating the whole
 * message. Reading any other field decodes the pulse once (protobufjs) and caches it.
 * Like nats.js messages, a view keeps the received bytes alive while it lives.
 * @module
 */
import { decodePulse, pulseToJsonObject } from "./codec.ts";
import type { IHlcTimestamp, IPulse, ISpectral } from "./types.ts";

const EMPTY = new Uint8Array(0);

/** A lazily decoded `Pulse`; satisfies `IPulse` for reading. */
export class PulseView implements IPulse {
  /** The pulse's protobuf encoding, as received. */
  readonly encoded: Uint8Array;
  #full: IPulse | null = null;
  #payload: Uint8Array = EMPTY;
  #sequence = 0;
  // Where the vector clock's entries (field 20) are: start and end offsets, in order.
  #clockAt: number[] | null = null;

  /** Wraps encoded pulse bytes; throws `RangeError` when the framing is broken. */
  constructor(encoded: Uint8Array) {
    this.encoded = encoded;
    this.#scan();
  }

  // Last occurrence wins, as in any protobuf parser (the node appends its stamp).
  #scan(): void {
    const b = this.encoded;
    let pos = 0;
    while (pos < b.length) {
      let key = 0;
      let shift = 0;
      let byte;
      do {
        byte = b[pos++];
        key |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte >= 0x80 && pos < b.length);
      const wire = key & 7;
      const field = key >>> 3;
      if (wire === 0) {
        let value = 0;
        let mul = 1;
        do {
          byte = b[pos++];
          value += (byte & 0x7f) * mul;
          mul *= 128;
        } while (byte >= 0x80 && pos < b.length);
        if (field === 2) this.#sequence = value;
      } else if (wire === 2) {
        let len = 0;
        let mul = 1;
        do {
          byte = b[pos++];
          len += (byte & 0x7f) * mul;
          mul *= 128;
        } while (byte >= 0x80 && pos < b.length);
        if (pos + len > b.length) throw new RangeError("pulse field extends past its frame");
        if (field === 11) this.#payload = b.subarray(pos, pos + len);
        else if (field === 20) (this.#clockAt ??= []).push(pos, pos + len);
        pos += len;
      } else if (wire === 5) pos += 4;
      else if (wire === 1) pos += 8;
      else throw new RangeError(`invalid wire type ${wire} in pulse`);
    }
  }

  /**
   * Raises the entries of `into` to this pulse's vector clock (entry-wise maximum) without
   * decoding the rest of the pulse; returns whether any entry rose.
   */
  mergeClockInto(into: Map<string, number>): boolean {
    const at = this.#clockAt;
    if (at === null) return false;
    const b = this.encoded;
    if (at.length === 2) {
      // One entry (a pulse whose producer consumed nothing): no record to build.
      const entry = readClockEntry(b, at[0], at[1]);
      if (entry === null) return false;
      const old = into.get(entry[0]);
      if (old !== undefined && old >= entry[1]) return false;
      into.set(entry[0], entry[1]);
      return true;
    }
    // Within the pulse the last entry of a key wins (a producer's entry, then the stamp's).
    const clock: Record<string, number> = {};
    for (let i = 0; i < at.length; i += 2) {
      const entry = readClockEntry(b, at[i], at[i + 1]);
      if (entry !== null) clock[entry[0]] = entry[1];
    }
    let changed = false;
    for (const key in clock) {
      const old = into.get(key);
      if (old === undefined || old < clock[key]) {
        into.set(key, clock[key]);
        changed = true;
      }
    }
    return changed;
  }

  /** The whole pulse as a plain decoded message (decoded once). */
  decode(): IPulse {
    return this.#full ??= decodePulse(this.encoded);
  }

  /** The canonical JSON mapping, so `JSON.stringify(view)` renders the pulse. */
  toJSON(): Record<string, unknown> {
    return pulseToJsonObject(this.decode());
  }

  /** Payload bytes (a view into the received message). */
  get payload(): Uint8Array {
    return this.#payload;
  }
  /** Per-reality sequence. */
  get sequence(): number {
    return this.#sequence;
  }
  /** UUIDv7 id. */
  get id(): string {
    return this.decode().id ?? "";
  }
  /** Topic. */
  get topic(): string {
    return this.decode().topic ?? "";
  }
  /** Producer identity. */
  get producerId(): string {
    return this.decode().producerId ?? "";
  }
  /** Reality id. */
  get realityId(): string {
    return this.decode().realityId ?? "";
  }
  /** Hybrid logical clock timestamp. */
  get timestamp(): IHlcTimestamp | null {
    return this.decode().timestamp ?? null;
  }
  /** W3C trace context. */
  get traceContext(): Record<string, string> {
    return this.decode().traceContext ?? {};
  }
  /** Spectral metadata. */
  get spectral(): ISpectral | null {
    return this.decode().spectral ?? null;
  }
  /** Headers. */
  get headers(): Record<string, string> {
    return this.decode().headers ?? {};
  }
  /** Content type of the payload. */
  get contentType(): string {
    return this.decode().contentType ?? "";
  }
  /** Deterministic-sync group. */
  get syncId(): string {
    return this.decode().syncId ?? "";
  }
  /** Intent embedding. */
  get intentVector(): number[] {
    return this.decode().intentVector ?? [];
  }
  /** Entropy seed. */
  get entropySeed(): number {
    return this.decode().entropySeed ?? 0;
  }
  /** Speculative pulse flag. */
  get ghost(): boolean {
    return this.decode().ghost ?? false;
  }
  /** Vector clock: reality id -> sequence (docs/time.md). */
  get vclock(): Record<string, number> {
    return this.decode().vclock ?? {};
  }
  /** Reply topic of a request. */
  get replyTo(): string {
    return this.decode().replyTo ?? "";
  }
}

/** One `map<string, uint64>` entry between `start` and `end`: [key, value], null if malformed. */
function readClockEntry(b: Uint8Array, start: number, end: number): [string, number] | null {
  let pos = start;
  let key = "";
  let value = 0;
  while (pos < end) {
    const tag = b[pos++];
    if (tag === 0x0a) {
      const len = b[pos++];
      if (len >= 0x80 || pos + len > end) return null;
      // Keys are reality ids: ASCII.
      key = String.fromCharCode.apply(null, b.subarray(pos, pos + len) as unknown as number[]);
      pos += len;
    } else if (tag === 0x10) {
      let mul = 1;
      let byte;
      value = 0;
      do {
        byte = b[pos++];
        value += (byte & 0x7f) * mul;
        mul *= 128;
      } while (byte >= 0x80 && pos < end);
    } else return null;
  }
  return key === "" ? null : [key, value];
}
