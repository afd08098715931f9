/**
 * Helpers for the store's tests: build stamped pulses the way the Spine hands them over,
 * and temporary data directories.
 * @module
 */
import type { IPulse } from "../protocol/mod.ts";
import { type LogEntry, logEntry } from "./pulse_codec.ts";

/** Fields of a test pulse; anything absent gets a deterministic default. */
export interface TestPulse {
  sequence: number;
  topic?: string;
  reality?: string;
  wallMs?: number;
  payload?: Uint8Array;
}

/** A stamped pulse as the Spine passes it to `append`. */
export function stampedPulse(p: TestPulse): LogEntry {
  return logEntry(stampedFields(p));
}

/** The fields of a stamped pulse. */
export function stampedFields(p: TestPulse): IPulse {
  return {
    id: `0190f1e0-0000-7000-8000-${p.sequence.toString(16).padStart(12, "0")}`,
    sequence: p.sequence,
    topic: p.topic ?? "test.topic",
    realityId: p.reality ?? "default",
    producerId: "tester",
    timestamp: { wallMs: p.wallMs ?? 1_700_000_000_000 + p.sequence, logical: 0 },
    contentType: "application/octet-stream",
    payload: p.payload ?? payloadFor(p.sequence, 16),
  };
}

/** A payload whose bytes depend on the sequence, so a mix-up changes the checksum. */
export function payloadFor(sequence: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (sequence * 31 + i * 7) & 0xff;
  return bytes;
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "arqon-store-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
