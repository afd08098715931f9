/**
 * Minimal reader/writer of core Wasm binary sections, enough to check and rewrite the
 * memory declaration (the cap) without a full decoder.
 * @module
 */
import { ComponentRejectedError } from "./errors.ts";

/** One section of a core module: its id and the byte range of its contents. */
export interface Section {
  id: number;
  /** Offset of the section id byte. */
  headerStart: number;
  start: number;
  end: number;
}

/** Reads an unsigned LEB128 at `pos`; returns the value and the position after it. */
export function readU32(bytes: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    if (pos >= bytes.length) throw new RangeError("truncated LEB128");
    const b = bytes[pos++];
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7;
  }
  throw new RangeError("LEB128 too long");
}

/** Encodes an unsigned LEB128. */
export function encodeU32(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

/** The sections of a core module (header checked). */
export function readSections(bytes: Uint8Array): Section[] {
  if (
    bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 ||
    bytes[3] !== 0x6d || bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0
  ) {
    throw new ComponentRejectedError("bad_core_module", "not a core Wasm module (bad header)");
  }
  const sections: Section[] = [];
  let pos = 8;
  while (pos < bytes.length) {
    const headerStart = pos;
    const id = bytes[pos++];
    const [size, start] = readU32(bytes, pos);
    const end = start + size;
    if (end > bytes.length) {
      throw new ComponentRejectedError(
        "bad_core_module",
        "section runs past the end of the module",
      );
    }
    sections.push({ id, headerStart, start, end });
    pos = end;
  }
  return sections;
}

const MEMORY_SECTION = 5;
const IMPORT_SECTION = 2;

/** What a module declares about its (single, own) memory. */
export interface MemoryDecl {
  /** Initial size in 64 KiB pages. */
  initial: number;
  /** Maximum size in pages; undefined when the module declares none. */
  maximum: number | undefined;
}

function importsMemory(bytes: Uint8Array, s: Section): boolean {
  let [count, pos] = readU32(bytes, s.start);
  for (; count > 0; count--) {
    let len: number;
    [len, pos] = readU32(bytes, pos);
    pos += len;
    [len, pos] = readU32(bytes, pos);
    pos += len;
    const kind = bytes[pos++];
    if (kind === 0) {
      [, pos] = readU32(bytes, pos);
    } else if (kind === 1) {
      pos++; // reftype
      const flags = bytes[pos++];
      [, pos] = readU32(bytes, pos);
      if (flags & 1) [, pos] = readU32(bytes, pos);
    } else if (kind === 2) {
      return true;
    } else if (kind === 3) {
      pos += 2; // valtype, mutability
    } else {
      throw new ComponentRejectedError("unsupported_feature", `import of unknown kind ${kind}`);
    }
  }
  return false;
}

/**
 * Rewrites the memory maximum of a module to `capPages` (or keeps a smaller declared one).
 * Rejects imported memories, several memories, shared or 64-bit memories, and an initial
 * size above the cap. V8 then enforces the maximum on `memory.grow`.
 */
export function capMemory(
  bytes: Uint8Array,
  capPages: number,
): { bytes: Uint8Array; memory: MemoryDecl } {
  const sections = readSections(bytes);
  const imp = sections.find((s) => s.id === IMPORT_SECTION);
  if (imp && importsMemory(bytes, imp)) {
    throw new ComponentRejectedError(
      "bad_core_module",
      "the module imports its memory; it must define one",
    );
  }
  const mem = sections.find((s) => s.id === MEMORY_SECTION);
  if (!mem) throw new ComponentRejectedError("bad_core_module", "the module defines no memory");
  let [count, pos] = readU32(bytes, mem.start);
  if (count !== 1) {
    throw new ComponentRejectedError(
      "unsupported_feature",
      `the module defines ${count} memories; one is allowed`,
    );
  }
  const flags = bytes[pos++];
  if (flags & 0x04) {
    throw new ComponentRejectedError("unsupported_feature", "memory64 is not allowed");
  }
  if (flags & 0x02) {
    throw new ComponentRejectedError("unsupported_feature", "shared memory is not allowed");
  }
  if (flags & ~0x01) {
    throw new ComponentRejectedError(
      "unsupported_feature",
      `unknown memory flags 0x${flags.toString(16)}`,
    );
  }
  let initial: number;
  let maximum: number | undefined;
  [initial, pos] = readU32(bytes, pos);
  if (flags & 1) [maximum, pos] = readU32(bytes, pos);
  if (pos !== mem.end) {
    throw new ComponentRejectedError("bad_core_module", "malformed memory section");
  }
  if (initial > capPages) {
    throw new ComponentRejectedError(
      "memory_over_cap",
      `initial memory of ${initial} pages exceeds the cap of ${capPages} pages`,
    );
  }
  const newMax = maximum === undefined ? capPages : Math.min(maximum, capPages);
  const body = [1, 0x01, ...encodeU32(initial), ...encodeU32(newMax)];
  const sectionHeader = [MEMORY_SECTION, ...encodeU32(body.length)];
  const headerStart = mem.headerStart;
  const out = new Uint8Array(
    headerStart + sectionHeader.length + body.length + (bytes.length - mem.end),
  );
  out.set(bytes.subarray(0, headerStart), 0);
  out.set(sectionHeader, headerStart);
  out.set(body, headerStart + sectionHeader.length);
  out.set(bytes.subarray(mem.end), headerStart + sectionHeader.length + body.length);
  return { bytes: out, memory: { initial, maximum: newMax } };
}
