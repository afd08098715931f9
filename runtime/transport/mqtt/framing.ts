/**
 * Cuts a TCP byte stream into whole MQTT packets by their fixed header (type byte and
 * variable-length "remaining length"), refusing a packet whose announced size is over the
 * bound before its body is buffered. Decoding a packet is `mqtt-packet`'s job; this only
 * finds where packets end, so a hostile length cannot make the node hold more than the bound.
 * @module
 */

/** What `PacketFramer.push` found: whole packets, then possibly why the stream is unusable. */
export interface Framed {
  /** The complete packets, in order. */
  readonly packets: Uint8Array[];
  /** Set when the stream cannot go on: a packet over the bound or a malformed length. */
  readonly error?: { readonly kind: "too_large" | "malformed"; readonly message: string };
}

/**
 * Splits received bytes into MQTT packets.
 *
 * @example
 * ```ts
 * import { PacketFramer } from "./framing.ts";
 *
 * const framer = new PacketFramer(1024);
 * framer.push(new Uint8Array([0xc0, 0x00, 0xc0])).packets.length; // 1 (PINGREQ), 1 byte kept
 * ```
 */
export class PacketFramer {
  readonly #max: number;
  #chunks: Uint8Array[] = [];
  #available = 0;

  /** A framer refusing packets over `maxPacketBytes` (fixed header included). */
  constructor(maxPacketBytes: number) {
    this.#max = maxPacketBytes;
  }

  /** Bytes held that do not yet form a whole packet. */
  get buffered(): number {
    return this.#available;
  }

  /** Adds received bytes; returns the packets they complete. */
  push(bytes: Uint8Array): Framed {
    if (bytes.length > 0) {
      this.#chunks.push(bytes);
      this.#available += bytes.length;
    }
    const packets: Uint8Array[] = [];
    while (this.#available >= 2) {
      // Remaining length: 1-4 bytes of 7 bits, least significant first.
      let length = 0;
      let mul = 1;
      let headerBytes = 1;
      let complete = false;
      for (let i = 1; i <= 4 && i < this.#available; i++) {
        const b = this.#byteAt(i);
        length += (b & 0x7f) * mul;
        mul *= 128;
        headerBytes++;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
        if (i === 4) {
          return {
            packets,
            error: { kind: "malformed", message: "remaining length over 4 bytes" },
          };
        }
      }
      if (!complete) break;
      const total = headerBytes + length;
      if (total > this.#max) {
        return {
          packets,
          error: {
            kind: "too_large",
            message: `packet of ${total} bytes exceeds the limit of ${this.#max}`,
          },
        };
      }
      if (this.#available < total) break;
      packets.push(this.#take(total));
    }
    return { packets };
  }

  #byteAt(index: number): number {
    for (const c of this.#chunks) {
      if (index < c.length) return c[index];
      index -= c.length;
    }
    return 0;
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const c = this.#chunks[0];
        const k = Math.min(c.length, n - at);
        out.set(c.subarray(0, k), at);
        at += k;
        if (k === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(k);
      }
    }
    this.#available -= n;
    return out;
  }
}
