/**
 * The forks of a node: what each was forked from (its origin, also written into the new
 * reality's description, so it survives a restart), where its replay stands, who listens
 * for progress, and how to cancel it. At most {@linkcode MAX_FORKS} are remembered (the
 * oldest finished ones are forgotten first; their realities stay marked).
 * @module
 */

/** Forks remembered in memory. */
export const MAX_FORKS = 1000;

/** Where a fork's replay stands. */
export type ForkState = "running" | "done" | "failed";

/** Where a fork came from. */
export interface ForkOrigin {
  readonly reality: string;
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly params?: Readonly<Record<string, unknown>>;
}

/** What `GET /v1/realities/{name}/fork` answers. */
export interface ForkStatus {
  readonly name: string;
  readonly state: ForkState;
  readonly processed: number;
  readonly total: number;
  readonly origin: ForkOrigin;
  /** Why it failed (`cancelled` for a DELETE). */
  readonly reason?: string;
}

/** One fork. */
export class ForkRecord {
  readonly name: string;
  readonly origin: ForkOrigin;
  state: ForkState = "running";
  processed = 0;
  total = 0;
  reason?: string;
  readonly controller = new AbortController();
  readonly #listeners = new Set<(s: ForkStatus) => void>();

  /** A running fork. */
  constructor(name: string, origin: ForkOrigin) {
    this.name = name;
    this.origin = origin;
  }

  /** Its status now. */
  status(): ForkStatus {
    return {
      name: this.name,
      state: this.state,
      processed: this.processed,
      total: this.total,
      origin: this.origin,
      ...(this.reason ? { reason: this.reason } : {}),
    };
  }

  /** Tells every listener the status now. */
  changed(): void {
    const s = this.status();
    for (const l of this.#listeners) l(s);
  }

  /** Listens for status changes until the returned function is called. */
  listen(listener: (s: ForkStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** The description a fork's reality carries: its origin, readable and parseable. */
export function forkDescription(origin: ForkOrigin, state: ForkState, reason?: string): string {
  return `fork of ${origin.reality} [${origin.fromSeq}..${origin.toSeq}]` +
    (origin.params ? ` params ${JSON.stringify(origin.params)}` : "") +
    `: ${state}${reason ? ` (${reason})` : ""}`;
}

const DESCRIBED = /^fork of ([a-z0-9_-]+) \[(\d+)\.\.(\d+)\]/;

/** The origin written in a reality's description, if it is a fork's. */
export function originOf(description: string | undefined): ForkOrigin | undefined {
  const m = description ? DESCRIBED.exec(description) : null;
  return m ? { reality: m[1], fromSeq: Number(m[2]), toSeq: Number(m[3]) } : undefined;
}

/** The remembered forks. */
export class ForkRegistry {
  readonly #forks = new Map<string, ForkRecord>();

  /** The fork named so, if remembered. */
  get(name: string): ForkRecord | undefined {
    return this.#forks.get(name);
  }

  /** Remembers a fork, forgetting the oldest finished ones past the bound. */
  add(record: ForkRecord): void {
    this.#forks.set(record.name, record);
    if (this.#forks.size <= MAX_FORKS) return;
    for (const [name, r] of this.#forks) {
      if (this.#forks.size <= MAX_FORKS) break;
      if (r.state !== "running") this.#forks.delete(name);
    }
  }

  /** Forgets a fork. */
  delete(name: string): void {
    this.#forks.delete(name);
  }
}
