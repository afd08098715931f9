/**
 * The batch side ABI of world `arqon:bus/policy`, host side: many pulses' inputs lowered
 * into ONE guest block as the canonical ABI lays out a
 * `list<tuple<pulse-context, list<u8>>>`, and the `list<verdict>` the guest's
 * `evaluate_batch` returns read back. One `cabi_realloc`, one call and one release for the
 * whole batch instead of three guest calls per pulse (docs/policies.md, "Batched
 * evaluation").
 *
 * Block layout (all offsets from the block's start, which is the list's address):
 *
 * ```text
 * [n elements of 48 bytes] [header lists, 16 bytes a pair] [payloads] [strings]
 * element: reality(ptr,len) topic(ptr,len) producer(ptr,len) headers(ptr,count)
 *          content-type(ptr,len) payload(ptr,len)        -- u32 little-endian each
 * ```
 *
 * The element array comes first so that the guest can view every payload in place as a
 * slice of the one ArrayBuffer the block is. A string equal to the previous pulse's same
 * field (reality, topic, producer, content type: usually all of them in a batch) is written
 * once and pointed at again.
 * @module
 */
import { type Instance, SandboxTrapError } from "../runtime/sandbox/mod.ts";
import type { PolicyInput, PolicyVerdict } from "./policy_world.ts";

/** Bytes of one lowered `tuple<pulse-context, list<u8>>`. */
export const BATCH_ELEMENT_BYTES = 48;
/** Bytes of one lowered `verdict`. */
export const VERDICT_BYTES = 20;

const MAX_REASON_BYTES = 1024;
const encoder = new TextEncoder();

/** UTF-8 length of `s`, with its bytes in `encoded[slot]` when it is not ASCII. */
function utf8Length(s: string, encoded: (Uint8Array | undefined)[], slot: number): number {
  for (let j = 0; j < s.length; j++) {
    if (s.charCodeAt(j) > 0x7f) {
      const data = encoder.encode(s);
      encoded[slot] = data;
      return data.length;
    }
  }
  encoded[slot] = undefined;
  return s.length;
}

/** Lowers batches into guest memory; one per policy instance (its scratch is reused). */
export class BatchLowering {
  /** Per string slot (4 per pulse, then header strings): its UTF-8 length. */
  readonly #lens: number[] = [];
  /** Per string slot: its guest address once written. */
  readonly #at: number[] = [];
  /** Per string slot: the UTF-8 bytes of a non-ASCII string. */
  readonly #encoded: (Uint8Array | undefined)[] = [];
  /** Per string slot: the slot it repeats (-1: written itself). */
  readonly #same: number[] = [];

  /**
   * Sizes the context string in `slot` (`value`; `before` is the previous pulse's same field,
   * undefined for the first): bytes it adds to the block, 0 when it repeats `before`.
   */
  #size(slot: number, value: string, before: string | undefined): number {
    const same = this.#same;
    const lens = this.#lens;
    if (before === value) {
      same[slot] = same[slot - 4] < 0 ? slot - 4 : same[slot - 4];
      lens[slot] = lens[slot - 4];
      return 0;
    }
    same[slot] = -1;
    return lens[slot] = utf8Length(value, this.#encoded, slot);
  }

  /**
   * Writes `inputs[0..n)` into one newly allocated guest block; returns its address (the
   * list's). Throws what the guest's allocator throws (the caller fails the instance).
   */
  lower(inst: Instance, inputs: readonly PolicyInput[], n: number): number {
    const lens = this.#lens;
    const encoded = this.#encoded;
    const same = this.#same;
    // Pass 1: sizes. Slots 4i..4i+3 are the context strings of pulse i; header strings
    // take slots from 4n on, in order.
    let headerPairs = 0;
    let payloadBytes = 0;
    let stringBytes = 0;
    let slot = 4 * n;
    let prev: PolicyInput | undefined;
    for (let i = 0; i < n; i++) {
      const input = inputs[i];
      // Field by field, with no array per pulse: this runs for every pulse of a batch.
      stringBytes += this.#size(4 * i, input.reality, prev?.reality) +
        this.#size(4 * i + 1, input.topic, prev?.topic) +
        this.#size(4 * i + 2, input.producer, prev?.producer) +
        this.#size(4 * i + 3, input.contentType, prev?.contentType);
      const headers = input.headers;
      headerPairs += headers.length;
      for (let h = 0; h < headers.length; h++) {
        for (let k = 0; k < 2; k++, slot++) {
          same[slot] = -1;
          lens[slot] = utf8Length(headers[h][k], encoded, slot);
          stringBytes += lens[slot];
        }
      }
      payloadBytes += input.payload.length;
      prev = input;
    }
    const headBytes = n * BATCH_ELEMENT_BYTES + headerPairs * 16;
    const base = inst.alloc(headBytes + payloadBytes + stringBytes, 4);
    const bytes = inst.bytes;
    const view = inst.view;
    // Pass 2: payloads, strings, then the elements and header lists pointing at them.
    let p = base + headBytes;
    for (let i = 0; i < n; i++) {
      const payload = inputs[i].payload;
      const e = base + i * BATCH_ELEMENT_BYTES;
      view.setUint32(e + 40, payload.length === 0 ? 0 : p, true);
      view.setUint32(e + 44, payload.length, true);
      bytes.set(payload, p);
      p += payload.length;
    }
    const at = this.#at;
    const write = (s: string, idx: number) => {
      if (same[idx] >= 0) {
        at[idx] = at[same[idx]];
        return;
      }
      at[idx] = p;
      const data = encoded[idx];
      if (data !== undefined) bytes.set(data, p);
      else for (let j = 0; j < s.length; j++) bytes[p + j] = s.charCodeAt(j);
      p += lens[idx];
    };
    let list = base + n * BATCH_ELEMENT_BYTES;
    slot = 4 * n;
    for (let i = 0; i < n; i++) {
      const input = inputs[i];
      const e = base + i * BATCH_ELEMENT_BYTES;
      write(input.reality, 4 * i);
      write(input.topic, 4 * i + 1);
      write(input.producer, 4 * i + 2);
      write(input.contentType, 4 * i + 3);
      view.setUint32(e, at[4 * i], true);
      view.setUint32(e + 4, lens[4 * i], true);
      view.setUint32(e + 8, at[4 * i + 1], true);
      view.setUint32(e + 12, lens[4 * i + 1], true);
      view.setUint32(e + 16, at[4 * i + 2], true);
      view.setUint32(e + 20, lens[4 * i + 2], true);
      view.setUint32(e + 32, at[4 * i + 3], true);
      view.setUint32(e + 36, lens[4 * i + 3], true);
      const headers = input.headers;
      view.setUint32(e + 24, headers.length === 0 ? 0 : list, true);
      view.setUint32(e + 28, headers.length, true);
      for (let h = 0; h < headers.length; h++) {
        write(headers[h][0], slot);
        write(headers[h][1], slot + 1);
        view.setUint32(list, at[slot], true);
        view.setUint32(list + 4, lens[slot], true);
        view.setUint32(list + 8, at[slot + 1], true);
        view.setUint32(list + 12, lens[slot + 1], true);
        list += 16;
        slot += 2;
      }
    }
    return base;
  }
}

/** Reads the verdict lowered at `at` (a `verdict`: discriminant byte, case payload at +4). */
export function readVerdictAt(inst: Instance, at: number): PolicyVerdict {
  inst.checkRange(at, VERDICT_BYTES, "verdict");
  const disc = inst.bytes[at];
  const view = inst.view;
  if (disc === 0) return ALLOW_VERDICT;
  if (disc === 1) {
    const p = view.getUint32(at + 4, true);
    const l = view.getUint32(at + 8, true);
    return {
      kind: "deny",
      reason: inst.readString(p, Math.min(l, MAX_REASON_BYTES), "deny reason"),
    };
  }
  if (disc === 2) {
    const p = view.getUint32(at + 4, true);
    const l = view.getUint32(at + 8, true);
    const rp = view.getUint32(at + 12, true);
    const rl = view.getUint32(at + 16, true);
    return {
      kind: "redact",
      payload: inst.readBytes(p, l, "redacted payload"),
      reason: inst.readString(rp, Math.min(rl, MAX_REASON_BYTES), "redact reason"),
    };
  }
  throw new SandboxTrapError("bad_result", `the verdict has an unknown discriminant ${disc}`);
}

const ALLOW_VERDICT: PolicyVerdict = Object.freeze({ kind: "allow" });

/**
 * Reads the `list<verdict>` whose (pointer, count) the guest returned at `ret` into
 * `out[0..n)`; throws {@linkcode SandboxTrapError} (`bad_result`) unless it holds exactly
 * `n` verdicts inside guest memory.
 */
export function readVerdicts(inst: Instance, ret: number, n: number, out: PolicyVerdict[]): void {
  inst.refresh();
  inst.checkRange(ret, 8, "verdict list");
  const view = inst.view;
  const ptr = view.getUint32(ret, true);
  const count = view.getUint32(ret + 4, true);
  if (count !== n) {
    throw new SandboxTrapError("bad_result", `${count} verdicts for a batch of ${n} pulses`);
  }
  inst.checkRange(ptr, n * VERDICT_BYTES, "verdict list");
  for (let i = 0; i < n; i++) out[i] = readVerdictAt(inst, ptr + i * VERDICT_BYTES);
}
