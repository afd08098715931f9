/**
 * The output log of a reality as replay compares it: every pulse an operator produced,
 * reduced to what is derived from the inputs (id, producer, topic, headers, content type,
 * payload, entropy seed, time, semantic trace; not the sequence, the reality or the trace
 * context), grouped by producer (operator, by name) and in sequence order within each.
 * Each operator's outputs follow its inputs; across operators the interleaving depends on
 * worker timing, so it is not part of the comparison. SHA-256 over the records; read page
 * by page, two realities in lockstep, so memory stays bounded on any log length.
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { decodePulse, type IPulse } from "../../runtime/protocol/mod.ts";
import type { DurableLog } from "../../runtime/spine/mod.ts";
import { isStoredInput, PAGE } from "./journal.ts";

/** One output as compared. */
export interface OutputRecord {
  readonly id: string;
  readonly producer: string;
  readonly topic: string;
  readonly sequence: number;
  readonly payload: string;
  /** The canonical record (JSON) hashed. */
  readonly canonical: string;
}

/** Where two output logs first differ. */
export interface Difference {
  /** Position in the compared order (0-based). */
  readonly index: number;
  readonly producer: string;
  readonly topic: string;
  /** The first log's output there (null: it has no more). */
  readonly a: Omit<OutputRecord, "canonical"> | null;
  /** The second log's. */
  readonly b: Omit<OutputRecord, "canonical"> | null;
}

/** The comparison of two output logs. */
export interface Comparison {
  readonly identical: boolean;
  readonly digestA: string;
  readonly digestB: string;
  readonly outputsA: number;
  readonly outputsB: number;
  readonly inputsA: number;
  readonly inputsB: number;
  readonly firstDifference: Difference | null;
  /** Outputs per topic, in each log. */
  readonly countsA: Record<string, number>;
  readonly countsB: Record<string, number>;
  /** By producer, the sequences of the first side's outputs its `marks` asked for. */
  readonly marksA: Record<string, Map<number, number>>;
}

const encoder = new TextEncoder();
/** Topics counted per log at most (the rest under "(other)"). */
export const MAX_COUNTED_TOPICS = 1000;

function b64(bytes: Uint8Array | null | undefined): string {
  if (!bytes || bytes.length === 0) return "";
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** The record of one output. */
export function outputRecord(p: IPulse): OutputRecord {
  const headers = Object.entries(p.headers ?? {}).sort((x, y) => x[0] < y[0] ? -1 : 1);
  const payload = b64(p.payload);
  const canonical = JSON.stringify([
    p.id ?? "",
    p.producerId ?? "",
    p.topic ?? "",
    headers,
    p.contentType ?? "",
    payload,
    String(p.entropySeed ?? 0),
    String(p.timestamp?.wallMs ?? 0),
    p.timestamp?.logical ?? 0,
    p.semtrace ?? [],
  ]);
  return {
    id: p.id ?? "",
    producer: p.producerId ?? "",
    topic: p.topic ?? "",
    sequence: Number(p.sequence ?? 0),
    payload,
    canonical,
  };
}

/** The part of a reality's log compared (inclusive sequences; absent: all of it). */
export interface Side {
  readonly reality: string;
  readonly fromSeq?: number;
  readonly toSeq?: number;
  /** Outputs skipped at the start, by producer (those a snapshot already accounts for). */
  readonly skip?: Readonly<Record<string, number>>;
  /**
   * By producer: its outputs are read after this sequence only (those before it are
   * accounted for already; see `ReplaySnapshot.after`).
   */
  readonly after?: Readonly<Record<string, number>>;
  /** By producer: how many of its outputs precede the part read (ordinals of `marks`). */
  readonly before?: Readonly<Record<string, number>>;
  /**
   * By producer: ordinals of its outputs (1-based, counting `before`) whose sequences the
   * comparison reports in `Comparison.marksA` (first side only).
   */
  readonly marks?: Readonly<Record<string, readonly number[]>>;
}

const query = (side: Side) => ({
  reality: side.reality,
  fromSeq: side.fromSeq ?? 1,
  ...(side.toSeq !== undefined && Number.isFinite(side.toSeq) ? { toSeq: side.toSeq } : {}),
});

/** One pass: the operator producers of a reality's log, its input count and topic counts. */
async function survey(log: DurableLog, side: Side) {
  const producers = new Set<string>();
  const counts: Record<string, number> = {};
  let topics = 0;
  let inputs = 0;
  for await (const page of log.history(query(side), PAGE)) {
    for (const stored of page) {
      if (isStoredInput(stored)) {
        inputs++;
        continue;
      }
      const p = decodePulse(stored.bytes);
      producers.add(p.producerId ?? "");
      let topic = p.topic ?? "";
      if (counts[topic] === undefined && ++topics > MAX_COUNTED_TOPICS) topic = "(other)";
      counts[topic] = (counts[topic] ?? 0) + 1;
    }
  }
  return { producers, counts, inputs };
}

/**
 * The outputs of `producer` in a reality, in sequence order (after `side.after` for it);
 * the sequences of the ordinals `side.marks` asks for go to `marks`.
 */
async function* outputsOf(
  log: DurableLog,
  side: Side,
  producer: string,
  marks: Map<number, number>,
): AsyncGenerator<OutputRecord> {
  let skip = side.skip?.[producer] ?? 0;
  let ordinal = side.before?.[producer] ?? 0;
  const wanted = new Set(side.marks?.[producer] ?? []);
  const range = query(side);
  const after = side.after?.[producer];
  if (after !== undefined) range.fromSeq = Math.max(range.fromSeq, after + 1);
  for await (const page of log.history(range, PAGE)) {
    for (const stored of page) {
      if (isStoredInput(stored)) continue;
      const p = decodePulse(stored.bytes);
      if (p.producerId !== producer) continue;
      if (wanted.has(++ordinal)) marks.set(ordinal, stored.sequence);
      if (skip > 0) skip--;
      else yield outputRecord(p);
    }
  }
}

function strip(r: OutputRecord | null): Omit<OutputRecord, "canonical"> | null {
  if (!r) return null;
  const { canonical: _, ...rest } = r;
  return rest;
}

/** Compares the output logs of realities `a` and `b` (both in `log`; names or ranges). */
export async function compareOutputs(
  log: DurableLog,
  a: string | Side,
  b: string | Side,
): Promise<Comparison> {
  if (typeof a === "string") a = { reality: a };
  if (typeof b === "string") b = { reality: b };
  const [sa, sb] = await Promise.all([survey(log, a), survey(log, b)]);
  const producers = [...new Set([...sa.producers, ...sb.producers])].sort();
  const ha = sha256.create();
  const hb = sha256.create();
  let outputsA = 0;
  let outputsB = 0;
  let index = 0;
  let first: Difference | null = null;
  const marksA: Record<string, Map<number, number>> = {};
  for (const producer of producers) {
    const ia = outputsOf(log, a, producer, marksA[producer] = new Map());
    const ib = outputsOf(log, b, producer, new Map());
    while (true) {
      const [ra, rb] = await Promise.all([ia.next(), ib.next()]);
      if (ra.done && rb.done) break;
      const x = ra.done ? null : ra.value;
      const y = rb.done ? null : rb.value;
      if (x) {
        ha.update(encoder.encode(x.canonical + "\n"));
        outputsA++;
      }
      if (y) {
        hb.update(encoder.encode(y.canonical + "\n"));
        outputsB++;
      }
      if (!first && x?.canonical !== y?.canonical) {
        first = { index, producer, topic: (x ?? y)!.topic, a: strip(x), b: strip(y) };
      }
      index++;
    }
  }
  const digestA = bytesToHex(ha.digest());
  const digestB = bytesToHex(hb.digest());
  return {
    identical: first === null,
    digestA,
    digestB,
    outputsA,
    outputsB,
    inputsA: sa.inputs,
    inputsB: sb.inputs,
    firstDifference: first,
    countsA: sa.counts,
    countsB: sb.counts,
    marksA,
  };
}
