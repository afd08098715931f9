/**
 * History queries: which pulses of a reality to return, and the scan that reads them
 * from chunk rows in sequence order.
 * @module
 */
import type { StatementSync } from "node:sqlite";
import type { HistoryQuery, StoredPulse } from "../spine/mod.ts";
import { chunkMeta, metaCount } from "./chunk.ts";
import { verifyChunk } from "./checksum.ts";
import { type PayloadCipher, recordAad } from "./crypto/mod.ts";
import { readTopic } from "./pulse_codec.ts";
import { compileStorePattern, type RealityState } from "./realities.ts";
import { StorageError } from "./errors.ts";

/** The prepared statements a scan needs. */
export interface HistoryStatements {
  /**
   * `(reality, seek)` -> chunk rows with `last_seq >= seek`, by `last_seq`: `rule`,
   * `batch_first`, `first_wall`, `first_seq`, `last_seq`, `checksum`, `meta`, `data`.
   */
  readonly chunksFrom: StatementSync;
  /** `(reality, fromTime)` -> the first chunk row with `last_wall >= fromTime`. */
  readonly firstByWall: StatementSync;
  /** Opens chunk data sealed at rest; absent: stored in clear. */
  readonly cipher?: PayloadCipher;
}

interface ChunkRow {
  rule: number;
  first_seq: number;
  last_seq: number;
  checksum: number | null;
  batch_first: number;
  first_wall: number;
  meta: Uint8Array;
  data: Uint8Array;
}

function bound(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new StorageError(`${name} must be a non-negative number`, "INVALID_ARGUMENT");
  }
  return value;
}

/** Bounds of a validated query. */
interface QueryBounds {
  from: number;
  to: number;
  fromTime: number;
  toTime: number;
  limit: number;
  matches: ((topic: string) => boolean) | null;
}

/** Validates a query (throws `INVALID_ARGUMENT`) and fills open bounds. */
export function checkHistoryQuery(query: HistoryQuery): QueryBounds {
  return {
    from: Math.max(1, bound(query.fromSeq, "fromSeq", 1)),
    to: bound(query.toSeq, "toSeq", Number.MAX_SAFE_INTEGER),
    fromTime: bound(query.fromTimeMs, "fromTimeMs", 0),
    toTime: bound(query.toTimeMs, "toTimeMs", Number.MAX_SAFE_INTEGER),
    limit: bound(query.limit, "limit", Number.MAX_SAFE_INTEGER),
    matches: query.pattern ? compileStorePattern(query.pattern) : null,
  };
}

/**
 * Runs `query` against the committed chunks of `reality`, returning pulses in sequence
 * order. Chunks committed together (same `batch_first`) may interleave when a reality has
 * several rules, so they are merged; chunks of different batches never overlap.
 */
export function scanHistory(
  statements: HistoryStatements,
  reality: RealityState,
  query: HistoryQuery,
): StoredPulse[] {
  const { from, to, fromTime, toTime, limit, matches } = checkHistoryQuery(query);
  const out: StoredPulse[] = [];
  if (from > to || fromTime > toTime || limit === 0) return out;

  let seek = from;
  if (query.fromTimeMs !== undefined) {
    const first = statements.firstByWall.get(reality.id, fromTime) as
      | { last_seq: number }
      | undefined;
    if (!first) return out;
    seek = Math.max(seek, first.last_seq);
  }
  const watermarks = new Map<number, number>();
  for (const rule of reality.rules) watermarks.set(rule.id, rule.watermark);

  let group: StoredPulse[] = [];
  let groupFirst = -1;
  let groupRule = -1;
  let groupMixed = false;
  let groupMinWall = Infinity;
  const flush = (): boolean => {
    // Chunks of one rule never overlap; only several rules in one batch interleave.
    if (groupMixed) group.sort((a, b) => a.sequence - b.sequence);
    for (const pulse of group) {
      if (out.length >= limit) return false;
      out.push(pulse);
    }
    group = [];
    groupRule = -1;
    groupMixed = false;
    // HLC wall time is monotonic with the sequence within a reality: once a whole
    // batch starts after `toTime`, nothing later can match.
    const more = out.length < limit && groupMinWall <= toTime;
    groupMinWall = Infinity;
    return more;
  };

  // With one rule, chunks never interleave: a page can end inside a batch instead of reading
  // (and checksumming) the rest of it (a replay pages through a long log this way).
  const single = reality.rules.length === 1;
  for (const row of statements.chunksFrom.iterate(reality.id, seek) as Iterable<ChunkRow>) {
    if (single && out.length + group.length >= limit) break;
    if (row.batch_first !== groupFirst) {
      if (groupFirst !== -1 && !flush()) return out;
      if (row.batch_first > to) break;
      groupFirst = row.batch_first;
    }
    if (groupRule === -1) groupRule = row.rule;
    else if (groupRule !== row.rule) groupMixed = true;
    if (row.first_wall < groupMinWall) groupMinWall = row.first_wall;
    const watermark = watermarks.get(row.rule);
    if (watermark === undefined) continue;
    verifyChunk(row, reality.name);
    const meta = chunkMeta(row.meta);
    const data = statements.cipher
      ? statements.cipher.open(
        row.data,
        recordAad(reality.id, row.rule, row.batch_first, row.first_wall),
      )
      : row.data;
    const n = metaCount(meta);
    let offset = 0;
    for (let i = 0, at = 0; i < n; i++, at += 3) {
      const seq = meta[at];
      const wall = meta[at + 1];
      const size = meta[at + 2];
      const start = offset;
      offset += size;
      if (seq < from || seq > to || seq <= watermark || wall < fromTime || wall > toTime) continue;
      const bytes = data.subarray(start, offset);
      if (matches && !matches(readTopic(bytes))) continue;
      group.push({ sequence: seq, wallMs: wall, bytes });
    }
  }
  if (groupFirst !== -1) flush();
  return out;
}
