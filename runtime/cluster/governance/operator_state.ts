/**
 * Operator state for a cluster: the node's own store stays the one the runners read and
 * write (in the same transaction as their outputs), and every commit is also written, in
 * order, to a JetStream KV bucket (`ARQON_OPSTATE`: one key per state key, plus the last
 * input sequence handled). A node taking an operator over restores that state into its own
 * store before the operator starts there.
 *
 * A commit's several keys are several KV writes, and the node writing them can die between
 * two. So each commit is first written whole, as one value (`_commit`: its input sequence
 * and changes), then key by key: a restore applies the last whole commit over the keys, and
 * so always reads the state after some commit, with that commit's input sequence.
 * @module
 */
import { Buffer } from "node:buffer";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { OperatorStateStore } from "../../spine/mod.ts";
import { governanceUnavailable } from "./errors.ts";

const SEQ = "_seq";
const COMMIT = "_commit";

/** One commit as written whole: its input sequence and its changes (null: deleted). */
interface WholeCommit {
  readonly seq: number;
  readonly changes: readonly (readonly [string, Uint8Array | null])[];
}

/** The local store, with each commit mirrored to the cluster. */
export class ReplicatedOperatorState implements OperatorStateStore {
  readonly #local: OperatorStateStore;
  readonly #kv: KV;
  /** Mirror writes per operator, chained: applied in commit order. */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #onError: (operator: string, err: unknown) => void;
  /**
   * Whether this node may write `operator`'s state to the cluster (it holds the lease): a
   * node that learnt it lost the lease writes no more.
   */
  mayWrite: (operator: string) => boolean = () => true;

  private constructor(
    local: OperatorStateStore,
    kv: KV,
    onError: (operator: string, err: unknown) => void,
  ) {
    this.#local = local;
    this.#kv = kv;
    this.#onError = onError;
  }

  /** Opens (creating when missing) the bucket. */
  static async open(options: {
    nc: NatsConnection;
    local: OperatorStateStore;
    replicas?: number;
    bucket?: string;
    onError?: (operator: string, err: unknown) => void;
  }): Promise<ReplicatedOperatorState> {
    try {
      const js = jetstream(options.nc, { timeout: 3000 });
      const kv = await new Kvm(js).create(options.bucket ?? "ARQON_OPSTATE", {
        history: 1,
        replicas: options.replicas ?? 1,
      });
      return new ReplicatedOperatorState(options.local, kv, options.onError ?? (() => {}));
    } catch (e) {
      throw governanceUnavailable("open the operator state bucket", e);
    }
  }

  loadOperatorState(reality: string, operator: string): [string, Uint8Array][] {
    return this.#local.loadOperatorState(reality, operator);
  }

  commitOperatorState(
    reality: string,
    operator: string,
    changes: readonly (readonly [string, Uint8Array | null])[],
    inputSequence?: number,
  ): Promise<void> {
    const committed = this.#local.commitOperatorState(reality, operator, changes, inputSequence);
    const copy = changes.map(([k, v]) => [k, v && v.slice()] as const);
    this.#mirror(operator, async () => {
      await committed;
      if (!this.mayWrite(operator)) return;
      await this.#kv.put(stateKey(operator, COMMIT), encodeCommit(inputSequence ?? 0, copy));
      for (const [k, v] of copy) {
        if (v === null) await this.#kv.delete(stateKey(operator, k));
        else await this.#kv.put(stateKey(operator, k), v);
      }
      if (inputSequence) await this.#kv.put(stateKey(operator, SEQ), String(inputSequence));
    });
    return committed;
  }

  replaceOperatorState(
    reality: string,
    operator: string,
    entries: readonly (readonly [string, Uint8Array])[],
  ): Promise<void> {
    const done = this.#local.replaceOperatorState(reality, operator, entries);
    const copy = entries.map(([k, v]) => [k, v.slice()] as const);
    this.#mirror(operator, async () => {
      await done;
      await this.#clear(operator, true);
      for (const [k, v] of copy) await this.#kv.put(stateKey(operator, k), v);
    });
    return done;
  }

  dropOperatorState(reality: string, operator: string): Promise<void> {
    const done = this.#local.dropOperatorState(reality, operator);
    this.#mirror(operator, async () => {
      await done;
      await this.#clear(operator, false);
    });
    return done;
  }

  holdCommits(): () => void {
    return this.#local.holdCommits();
  }

  async flush(): Promise<void> {
    await this.#local.flush();
  }

  /** Resolves once every mirror write queued so far for `operator` is done. */
  async mirrored(operator: string): Promise<void> {
    await this.#chains.get(operator);
  }

  /**
   * Replaces this node's state of `operator` with the cluster's (a node taking it over);
   * returns the last input sequence the state includes (0 when none was recorded).
   */
  async restore(reality: string, operator: string): Promise<number> {
    let entries: Map<string, Uint8Array>;
    let seq = 0;
    try {
      entries = new Map();
      let last: WholeCommit | undefined;
      const prefix = `${token(operator)}.`;
      const keys = await this.#kv.keys(`${prefix}>`);
      const names: string[] = [];
      for await (const k of keys) names.push(k);
      for (const k of names) {
        const e = await this.#kv.get(k);
        if (!e || e.operation !== "PUT") continue;
        const key = Buffer.from(k.slice(prefix.length), "base64url").toString("utf8");
        if (key === SEQ) seq = Number(e.string());
        else if (key === COMMIT) last = decodeCommit(e.value);
        else entries.set(key, e.value.slice());
      }
      // The last commit, whole: its keys (written after it) may not all have been.
      if (last) {
        for (const [k, v] of last.changes) {
          if (v === null) entries.delete(k);
          else entries.set(k, v);
        }
        seq = Math.max(seq, last.seq);
      }
    } catch (e) {
      throw governanceUnavailable(`read the state of operator ${operator}`, e);
    }
    await this.#local.replaceOperatorState(reality, operator, [...entries]);
    await this.#local.flush();
    return seq;
  }

  #mirror(operator: string, write: () => Promise<void>): void {
    const before = this.#chains.get(operator) ?? Promise.resolve();
    const next = before.then(write).catch((e) => this.#onError(operator, e));
    this.#chains.set(operator, next);
    void next.then(() => {
      if (this.#chains.get(operator) === next) this.#chains.delete(operator);
    });
  }

  async #clear(operator: string, keepSeq: boolean): Promise<void> {
    const keys = await this.#kv.keys(`${token(operator)}.>`);
    const names: string[] = [];
    for await (const k of keys) names.push(k);
    const seqKey = stateKey(operator, SEQ);
    for (const k of names) if (!(keepSeq && k === seqKey)) await this.#kv.delete(k);
  }
}

function encodeCommit(
  seq: number,
  changes: readonly (readonly [string, Uint8Array | null])[],
): Uint8Array {
  const json = {
    seq,
    changes: changes.map(([k, v]) => [k, v === null ? null : Buffer.from(v).toString("base64")]),
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

function decodeCommit(bytes: Uint8Array): WholeCommit {
  const json = JSON.parse(new TextDecoder().decode(bytes)) as {
    seq: number;
    changes: [string, string | null][];
  };
  return {
    seq: json.seq,
    changes: json.changes.map(([k, v]) => [k, v === null ? null : Buffer.from(v, "base64")]),
  };
}

function token(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url") || "_";
}

function stateKey(operator: string, key: string): string {
  return `${token(operator)}.${token(key)}`;
}
