/**
 * Replays of a node (docs/time.md, "Replay"): `verify` re-runs a reality's whole input
 * journal into a scratch reality and compares the output logs by SHA-256. At most
 * `maxConcurrent` replays run at once (verifies and forks together); one more is refused
 * with `QUOTA_EXCEEDED`.
 * @module
 */
import { BusError } from "../../runtime/protocol/mod.ts";
import { compareOutputs, type Difference, type Side } from "./digest.ts";
import { sourceSide, withPositions } from "./snapshot_positions.ts";
import { replay, ReplayCancelled, type ReplayContext } from "./engine.ts";
import type { ForkRequest, LogPoint } from "./fork_request.ts";
import {
  forkDescription,
  type ForkOrigin,
  ForkRecord,
  ForkRegistry,
  type ForkStatus,
  originOf,
} from "./forks.ts";
import { isStoredInput, PAGE } from "./journal.ts";
import { type ReplaySnapshot, SnapshotStore } from "./snapshots.ts";
import type { OperatorVersion } from "../host_types.ts";

/** What `GET /v1/realities/{a}/diff/{b}` answers. */
export interface DiffAnswer {
  readonly a: string;
  readonly b: string;
  readonly identical: boolean;
  readonly first_divergence: Difference | null;
  readonly counts: { readonly a: Record<string, number>; readonly b: Record<string, number> };
  readonly outputs: { readonly a: number; readonly b: number };
  readonly digests: { readonly a: string; readonly b: string };
  readonly summary: string;
}

/** What `POST /v1/realities/{r}/verify` answers. */
export interface VerifyAnswer {
  readonly ok: boolean;
  readonly reality: string;
  /** The source sequence of the snapshot the replay started after (null: from the start). */
  readonly from_snapshot: number | null;
  readonly inputs: number;
  readonly outputs: number;
  readonly replay_outputs: number;
  readonly digest: string;
  readonly replay_digest: string;
  readonly first_difference: Difference | null;
  readonly operators: { name: string; digest: string }[];
  readonly failures: string[];
}

/** Options of {@linkcode Replays}. */
export interface ReplaysOptions extends ReplayContext {
  /**
   * Replays running at once (verify and fork together).
   * @default 2
   */
  readonly maxConcurrent?: number;
  /**
   * A replay without overrides snapshots operator state every this many inputs (0: never).
   * @default 10000
   */
  readonly snapshotEvery?: number;
}

/** The replays of one node. */
export class Replays {
  readonly #o: ReplaysOptions;
  readonly #max: number;
  #running = 0;
  #scratch = 0;
  readonly #forks = new ForkRegistry();
  /** Snapshots replays took, by reality. */
  readonly snapshots: SnapshotStore = new SnapshotStore();
  /** Operator versions by reality (installs and replacements), at most 64 per reality. */
  readonly #versions = new Map<string, OperatorVersion[]>();

  /** The replays of a node. */
  constructor(options: ReplaysOptions) {
    this.#o = options;
    this.#max = options.maxConcurrent ?? 2;
  }

  /**
   * Keeps an operator version (the host tells every install and replacement): replays run
   * each input through the version that had it. Kept in memory, 64 per reality (a version
   * dropped or lost with a restart is replayed as the one installed now, and verify reports
   * the difference).
   */
  recordVersion(v: OperatorVersion): void {
    let list = this.#versions.get(v.reality);
    if (!list) {
      if (this.#versions.size >= 1024) this.#versions.delete(this.#versions.keys().next().value!);
      this.#versions.set(v.reality, list = []);
    }
    list.push(v);
    if (list.length > 64) list.shift();
  }

  /** Replays running now. */
  get running(): number {
    return this.#running;
  }

  /** Takes a replay slot (QUOTA_EXCEEDED when none is free); returns its release. */
  protected slot(): () => void {
    if (this.#running >= this.#max) {
      throw new BusError(
        "QUOTA_EXCEEDED",
        `${this.#running} replays are running, the limit is ${this.#max} (--replay-max-concurrent)`,
      );
    }
    this.#running++;
    let done = false;
    return () => {
      if (!done) this.#running--;
      done = true;
    };
  }

  /** The stored reality `name` (NOT_FOUND when there is none). */
  protected source(name: string) {
    const info = this.#o.log.getReality(name);
    if (!info) throw new BusError("NOT_FOUND", `no reality ${name}`);
    return info;
  }

  /**
   * Replays `reality`'s inputs into a scratch reality (deleted afterwards) and compares the
   * two output logs: from the nearest snapshot made with the operators it has now, or from
   * the start when there is none or `full`.
   */
  async verify(reality: string, full = false): Promise<VerifyAnswer> {
    const info = this.source(reality);
    const release = this.slot();
    const { log } = this.#o;
    const scratch = `${reality.slice(0, 40)}-verify-${Date.now().toString(36)}-${++this.#scratch}`;
    try {
      log.createReality(scratch, info.config);
      const from = full ? undefined : this.#nearest(reality, info.lastSequence);
      // Snapshots made on the way are kept once the comparison found where, in the source
      // log, each operator's outputs after them begin.
      const made: ReplaySnapshot[] = [];
      const run = await replay(this.#o, {
        reality,
        fromSeq: from ? from.sequence + 1 : 1,
        toSeq: info.lastSequence,
        target: scratch,
        from,
        snapshotEvery: this.#o.snapshotEvery ?? 10_000,
        onSnapshot: (s) => made.push(s),
        versions: this.#versions.get(reality),
      });
      const source = sourceSide(reality, from, made);
      const c = await compareOutputs(log, source, scratch);
      // Positions are kept from a verify that matched only: from one that did not, a count
      // of the replay's outputs need not point at the same place in the source log.
      for (const s of made) {
        this.snapshots.add(c.identical ? withPositions(s, source, c.marksA) : s);
      }
      return {
        ok: c.identical,
        reality,
        from_snapshot: from ? from.sequence : null,
        inputs: run.inputs,
        outputs: c.outputsA,
        replay_outputs: c.outputsB,
        digest: c.digestA,
        replay_digest: c.digestB,
        first_difference: c.firstDifference,
        operators: run.operators,
        failures: run.failures,
      };
    } finally {
      await this.dropScratch(scratch);
      release();
    }
  }

  /** The sequence a point of `reality`'s log stands for (first at or after a time). */
  #sequenceOf(reality: string, at: LogPoint, last: number, end: boolean): number {
    if ("sequence" in at) return at.sequence;
    const { log } = this.#o;
    // The first pulse at or after the time (for `until`: the first after it, minus one).
    const [first] = log.readEncoded({
      reality,
      fromTimeMs: end ? at.time + 1 : at.time,
      limit: 1,
    });
    if (!first) return end ? last : last + 1;
    return end ? first.sequence - 1 : first.sequence;
  }

  /**
   * Starts a fork of `reality` (answers at once; the replay runs on). Throws NOT_FOUND,
   * ALREADY_EXISTS, NOT_RETAINED (a range whose start the log no longer keeps),
   * INVALID_ARGUMENT (an empty range), QUOTA_EXCEEDED (too many replays).
   */
  fork(reality: string, request: ForkRequest): ForkStatus {
    const info = this.source(reality);
    const { log } = this.#o;
    if (log.getReality(request.name) || this.#forks.get(request.name)?.state === "running") {
      throw new BusError("ALREADY_EXISTS", `reality ${request.name} exists already`);
    }
    const last = info.lastSequence;
    let fromSeq = Math.max(
      1,
      request.at ? this.#sequenceOf(reality, request.at, last, false) : 1,
    );
    const toSeq = request.until ? this.#sequenceOf(reality, request.until, last, true) : last;
    if (toSeq > last) {
      throw new BusError(
        "INVALID_ARGUMENT",
        `until is past the end of ${reality} (sequence ${last})`,
      );
    }
    if (fromSeq > toSeq) {
      throw new BusError(
        "INVALID_ARGUMENT",
        `the range ${fromSeq}..${toSeq} of ${reality} is empty`,
      );
    }
    const [firstKept] = log.readEncoded({ reality, fromSeq: 1, limit: 1 });
    if (!firstKept || (firstKept.sequence > fromSeq && firstKept.sequence > 1)) {
      throw new BusError(
        "NOT_RETAINED",
        `${reality} keeps its log from sequence ${firstKept?.sequence ?? last + 1} on, ` +
          `not from ${fromSeq} (retention)`,
      );
    }
    // Mid-log: from the nearest snapshot before `at` (the range then starts after it).
    const from = fromSeq > 1 ? this.#nearest(reality, fromSeq - 1) : undefined;
    if (from) fromSeq = from.sequence + 1;
    const release = this.slot();
    const origin: ForkOrigin = {
      reality,
      fromSeq,
      toSeq,
      ...(request.params ? { params: request.params } : {}),
    };
    let record: ForkRecord;
    try {
      log.createReality(request.name, {
        ...info.config,
        description: forkDescription(origin, "running"),
      });
      record = new ForkRecord(request.name, origin);
      this.#forks.add(record);
    } catch (e) {
      release();
      throw e;
    }
    const mark = () => {
      try {
        log.updateReality(request.name, {
          ...info.config,
          description: forkDescription(origin, record.state, record.reason),
        });
      } catch { /* deleted meanwhile */ }
    };
    replay(this.#o, {
      reality,
      fromSeq,
      toSeq,
      target: request.name,
      params: request.params,
      from,
      versions: this.#versions.get(reality),
      // Snapshots of the origin's own state: only without overrides.
      snapshotEvery: request.params ? 0 : this.#o.snapshotEvery ?? 10_000,
      onSnapshot: (s) => this.snapshots.add(s),
      signal: record.controller.signal,
      onProgress: (processed, total) => {
        record.processed = processed;
        record.total = total;
        record.changed();
      },
    }).then(() => {
      record.state = "done";
    }, (e) => {
      record.state = "failed";
      record.reason = e instanceof ReplayCancelled
        ? "cancelled"
        : e instanceof Error
        ? e.message
        : String(e);
    }).finally(() => {
      release();
      mark();
      record.changed();
    });
    return record.status();
  }

  /** A fork's status (NOT_FOUND when `name` is not a fork this node remembers). */
  forkStatus(name: string): ForkRecord {
    const record = this.#forks.get(name);
    if (!record) throw new BusError("NOT_FOUND", `no fork ${name}`);
    return record;
  }

  /**
   * Cancels a running fork between two inputs; resolves with its final status (`failed`,
   * reason `cancelled`; its reality stays, marked so in its description).
   */
  async cancel(name: string): Promise<ForkStatus> {
    const record = this.forkStatus(name);
    if (record.state !== "running") return record.status();
    const finished = new Promise<void>((resolve) => {
      const stop = record.listen((s) => {
        if (s.state !== "running") {
          stop();
          resolve();
        }
      });
    });
    record.controller.abort();
    await finished;
    return record.status();
  }

  /** The origin of a fork reality, from memory or its description. */
  #originOf(name: string): ForkOrigin | undefined {
    return this.#forks.get(name)?.origin ??
      originOf(this.#o.log.getReality(name)?.config.description);
  }

  /**
   * Where the outputs of an origin's range end: before the first input after the range
   * (outputs of the range's last inputs are sequenced after it).
   */
  async #outputsEnd(reality: string, toSeq: number): Promise<number | undefined> {
    for await (const page of this.#o.log.history({ reality, fromSeq: toSeq + 1 }, PAGE)) {
      for (const stored of page) {
        if (isStoredInput(stored)) return stored.sequence - 1;
      }
    }
    return undefined;
  }

  /**
   * Compares the output logs of two related realities: a fork and its origin (the origin's
   * part in the fork's range) or two forks of one origin. NOT_FOUND, UNRELATED.
   */
  async diff(a: string, b: string): Promise<DiffAnswer> {
    this.source(a);
    this.source(b);
    const oa = this.#originOf(a);
    const ob = this.#originOf(b);
    let sa: Side = { reality: a };
    let sb: Side = { reality: b };
    if (ob?.reality === a) {
      sa = { reality: a, fromSeq: ob.fromSeq, toSeq: await this.#outputsEnd(a, ob.toSeq) };
    } else if (oa?.reality === b) {
      sb = { reality: b, fromSeq: oa.fromSeq, toSeq: await this.#outputsEnd(b, oa.toSeq) };
    } else if (!(oa && ob && oa.reality === ob.reality) && a !== b) {
      throw new BusError(
        "UNRELATED",
        `${a} and ${b} are unrelated: neither is a fork of the other, nor both of one reality`,
      );
    }
    const c = await compareOutputs(this.#o.log, sa, sb);
    const d = c.firstDifference;
    return {
      a,
      b,
      identical: c.identical,
      first_divergence: d,
      counts: { a: c.countsA, b: c.countsB },
      outputs: { a: c.outputsA, b: c.outputsB },
      digests: { a: c.digestA, b: c.digestB },
      summary: c.identical
        ? `identical: ${c.outputsA} outputs`
        : `diverge at output ${d!.index} (${d!.producer} on ${d!.topic}); ` +
          `${c.outputsA} outputs in ${a}, ${c.outputsB} in ${b}`,
    };
  }

  /** The nearest snapshot of `reality` at or before `sequence` with its operators' versions. */
  #nearest(reality: string, sequence: number): ReplaySnapshot | undefined {
    const digests: Record<string, string> = {};
    for (const op of this.#o.operators.list()) {
      if (op.reality === reality && op.status === "running") digests[op.name] = op.digest;
    }
    return this.snapshots.nearest(reality, sequence, digests);
  }

  /**
   * Deletes a scratch reality with everything the node kept for it: its operators' state,
   * its control parameters (memory and store) and the Spine's reality (a verify after
   * every few inputs must not leave one of each behind).
   */
  protected async dropScratch(name: string): Promise<void> {
    const { log, operators, control, spine } = this.#o;
    try {
      for (const op of operators.list()) await log.dropOperatorState(name, op.name);
      log.deleteReality(name);
    } catch { /* already gone */ }
    control?.forget(name);
    spine.forgetReality(name);
  }
}
