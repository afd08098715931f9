/**
 * Replay snapshots (docs/time.md, "Snapshots"): every `--snapshot-every` inputs, a replay
 * without overrides (a verify, a fork with no `params`) records the state of every operator
 * and the control parameters as they stand after that input, with how many outputs each
 * operator had made. A later verify or mid-log fork of the same reality starts from the
 * nearest one made with the same operator versions instead of from the first input. Kept in
 * memory: at most {@linkcode MAX_SNAPSHOTS_PER_REALITY} per reality (the oldest go first)
 * and {@linkcode MAX_SNAPSHOT_REALITIES} realities.
 * @module
 */

/** Snapshots kept per reality. */
export const MAX_SNAPSHOTS_PER_REALITY = 32;
/** Realities with snapshots kept. */
export const MAX_SNAPSHOT_REALITIES = 256;

/** The state of a reality's operators after one of its inputs. */
export interface ReplaySnapshot {
  readonly reality: string;
  /** The source sequence of the last input it includes. */
  readonly sequence: number;
  /** Operators and the digests of the components that made it. */
  readonly digests: Readonly<Record<string, string>>;
  /** The control parameters then. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Each operator's durable state (key, value). */
  readonly state: Readonly<Record<string, readonly (readonly [string, Uint8Array])[]>>;
  /** Outputs each operator (by producer) had made up to it. */
  readonly outputs: Readonly<Record<string, number>>;
  /**
   * By producer: the source log's sequence after which its outputs are those of the inputs
   * after this snapshot (an output follows its input, possibly past later inputs). Found by
   * the verify that made the snapshot, which read those outputs anyway; a verify from it
   * then reads the source log from there instead of from the start. Absent (a fork made
   * it, or the logs differed): the outputs it accounts for are skipped by count.
   */
  readonly after?: Readonly<Record<string, number>>;
}

/** The snapshots of a node. */
export class SnapshotStore {
  readonly #byReality = new Map<string, ReplaySnapshot[]>();

  /** Keeps a snapshot (replacing one at the same sequence). */
  add(s: ReplaySnapshot): void {
    let list = this.#byReality.get(s.reality);
    if (!list) {
      if (this.#byReality.size >= MAX_SNAPSHOT_REALITIES) {
        this.#byReality.delete(this.#byReality.keys().next().value!);
      }
      list = [];
      this.#byReality.set(s.reality, list);
    }
    const kept = list.filter((x) => x.sequence !== s.sequence);
    kept.push(s);
    kept.sort((a, b) => a.sequence - b.sequence);
    while (kept.length > MAX_SNAPSHOTS_PER_REALITY) kept.shift();
    this.#byReality.set(s.reality, kept);
  }

  /**
   * The latest snapshot of `reality` at or before `sequence` made by exactly the operator
   * versions `digests` (by name).
   */
  nearest(
    reality: string,
    sequence: number,
    digests: Readonly<Record<string, string>>,
  ): ReplaySnapshot | undefined {
    const list = this.#byReality.get(reality) ?? [];
    const want = JSON.stringify(Object.entries(digests).sort());
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i];
      if (s.sequence > sequence) continue;
      if (JSON.stringify(Object.entries(s.digests).sort()) === want) return s;
    }
    return undefined;
  }

  /** How many snapshots `reality` has. */
  count(reality: string): number {
    return this.#byReality.get(reality)?.length ?? 0;
  }

  /** Forgets a reality's snapshots (it was deleted or replaced). */
  drop(reality: string): void {
    this.#byReality.delete(reality);
  }
}
