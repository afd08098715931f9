/**
 * Replays of a node (docs/time.md, "Replay"): `verify` re-runs a reality's whole input
 * journal into a scratch reality and compares the output logs by SHA-256. At most
 * `maxConcurrent` replays run at once (verifies and forks together); one more is refused
 * with `QUOTA_EXCEEDED`.
 * @module
 */
import { BusError } from "../../runtime/protocol/mod.ts";
import { compareOutputs, type Difference } from "./digest.ts";
import { replay, type ReplayContext } from "./engine.ts";

/** What `POST /v1/realities/{r}/verify` answers. */
export interface VerifyAnswer {
  readonly ok: boolean;
  readonly reality: string;
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
}

/** The replays of one node. */
export class Replays {
  readonly #o: ReplaysOptions;
  readonly #max: number;
  #running = 0;
  #scratch = 0;

  /** The replays of a node. */
  constructor(options: ReplaysOptions) {
    this.#o = options;
    this.#max = options.maxConcurrent ?? 2;
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
   * Replays `reality`'s inputs from the start into a scratch reality (deleted afterwards)
   * and compares the two output logs.
   */
  async verify(reality: string): Promise<VerifyAnswer> {
    const info = this.source(reality);
    const release = this.slot();
    const { log } = this.#o;
    const scratch = `${reality.slice(0, 40)}-verify-${Date.now().toString(36)}-${++this.#scratch}`;
    try {
      log.createReality(scratch, info.config);
      const run = await replay(this.#o, {
        reality,
        fromSeq: 1,
        toSeq: info.lastSequence,
        target: scratch,
      });
      const c = await compareOutputs(log, reality, scratch);
      return {
        ok: c.identical,
        reality,
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

  /** Deletes a scratch reality with its operators' state. */
  protected async dropScratch(name: string): Promise<void> {
    const { log, operators } = this.#o;
    try {
      for (const op of operators.list()) await log.dropOperatorState(name, op.name);
      log.deleteReality(name);
    } catch { /* already gone */ }
  }
}
