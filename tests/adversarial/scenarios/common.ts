/**
 * What every soak scenario shares: its result row, an RSS sampler reading the node
 * process every 250 ms, a seeded PRNG, and an fd counter. Used by `bench/soak.ts` (long
 * runs) and by the bounded tests in `tests/adversarial/` (short runs of the same code).
 * @module
 */

/** One row of the soak summary table. */
export interface ScenarioResult {
  /** Scenario name (`--only` takes it). */
  readonly name: string;
  /** Wall-clock seconds the scenario ran, setup included. */
  seconds: number;
  /** Highest RSS sampled, bytes. */
  peakRss: number;
  /** The RSS ceiling, bytes. */
  readonly ceiling: number;
  /** Pulses acknowledged to clients (durable acks where a data dir is used). */
  acked: number;
  /** Acknowledged pulses not found afterwards. */
  lost: number;
  /** Typed errors the node answered with, by code (plus outcome counts where useful). */
  errors: Record<string, number>;
  /** Free-form measurements for the notes column. */
  notes: string[];
  /** Every broken promise: a non-empty list fails the scenario. */
  violations: string[];
}

/** A fresh result row. */
export function newResult(name: string, ceilingMb: number): ScenarioResult {
  return {
    name,
    seconds: 0,
    peakRss: 0,
    ceiling: ceilingMb * 1024 * 1024,
    acked: 0,
    lost: 0,
    errors: {},
    notes: [],
    violations: [],
  };
}

/** Adds `n` to `counts[key]`. */
export function count(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** Samples the RSS of whatever process `pid()` names every `everyMs` (250 ms by default). */
export class RssSampler {
  /** Highest RSS seen, bytes. */
  peak = 0;
  /** Most recent sample, bytes. */
  last = 0;
  readonly #timer: ReturnType<typeof setInterval>;

  /** Starts sampling at once; `pid` returning 0 skips a tick (process being restarted). */
  constructor(pid: () => number, everyMs = 250) {
    const tick = () => {
      const p = pid();
      if (!p) return;
      const bytes = readRss(p);
      if (!Number.isFinite(bytes)) return;
      this.last = bytes;
      if (bytes > this.peak) this.peak = bytes;
    };
    tick();
    this.#timer = setInterval(tick, everyMs);
  }

  /** Stops sampling; returns the peak. */
  stop(): number {
    clearInterval(this.#timer);
    return this.peak;
  }
}

/**
 * Ends a run: records the peak RSS, flags a dead node or an RSS over the ceiling, stops
 * the node and records the seconds since `started`.
 */
export async function finishRun(
  result: ScenarioResult,
  rss: RssSampler,
  node: { alive(): boolean; stop(): Promise<void> },
  started: number,
): Promise<void> {
  result.peakRss = rss.stop();
  if (!node.alive()) result.violations.push("the node died");
  if (result.peakRss > result.ceiling) result.violations.push("RSS over its ceiling");
  await node.stop();
  result.seconds = (Date.now() - started) / 1000;
}

/** VmRSS of a process in bytes (NaN once it is gone). */
export function readRss(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

/** How many file descriptors a process holds (/proc/<pid>/fd). */
export function fdCount(pid: number): number {
  let n = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
  return n;
}

/** A seeded PRNG (mulberry32): the same seed replays the same cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Megabytes with one decimal. */
export function mbOf(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** Closes anything closable, ignoring errors (the peer may be gone). */
export function quietClose(c: { close(): void } | null | undefined): void {
  try {
    c?.close();
  } catch { /* already closed */ }
}

/** `ErrorCode` names by number, from arqon.proto. */
export const ERROR_NAMES = [
  "UNSPECIFIED",
  "INVALID_FRAME",
  "UNKNOWN_FRAME",
  "INVALID_UTF8",
  "INVALID_TOPIC",
  "INVALID_PATTERN",
  "FRAME_TOO_LARGE",
  "TOO_MANY_SUBSCRIPTIONS",
  "SLOW_CONSUMER",
  "NO_RESPONDERS",
  "TIMEOUT",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "RATE_LIMITED",
  "POLICY_DENIED",
  "NOT_FOUND",
  "INTERNAL",
  "UNSUPPORTED_VERSION",
  "PROTOCOL_VIOLATION",
  "INVALID_ARGUMENT",
  "STORAGE_FAILED",
  "QUOTA_EXCEEDED",
  "SHUTTING_DOWN",
  "UNSUPPORTED_SUBPROTOCOL",
  "SCHEMA_VIOLATION",
]; // deno-fmt-ignore
