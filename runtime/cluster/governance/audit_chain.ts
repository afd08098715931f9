/**
 * The audit log of a cluster as one hash chain: a JetStream stream (`ARQON_AUDIT`) whose
 * message `n` is chain entry `n`, each linking the hash of entry `n - 1`. A node appends
 * with `expected-last-sequence` set to the head it built on, so two nodes never fork the
 * chain: the loser of a race gets a wrong-last-sequence error, re-reads the head and
 * builds its entry again on the new one. Any node verifies the whole chain from the stream.
 *
 * Every node keeps its own local log (`runtime/telemetry/audit`) as before; each local
 * entry is forwarded here in order, from a bounded queue (entries past the bound are
 * counted as dropped, never silently: `verify` reports them).
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";
import {
  DeliverPolicy,
  jetstream,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import {
  type AuditEntry,
  type AuditVerification,
  entryHash,
  GENESIS_HASH,
  verifyLines,
} from "../../telemetry/mod.ts";
import { governanceUnavailable } from "./errors.ts";

/** The subject every chain entry is written on. */
export const AUDIT_SUBJECT = "arqon.audit";
/** JetStream's "wrong last sequence" API error code. */
const WRONG_LAST_SEQUENCE = 10071;

/** Options of {@linkcode ClusterAudit.open}. */
export interface ClusterAuditOptions {
  /** The node's NATS connection. */
  readonly nc: NatsConnection;
  /** The node's id, written into each entry's details (`node`). */
  readonly nodeId: string;
  /**
   * The stream's name.
   * @default {"ARQON_AUDIT"}
   */
  readonly stream?: string;
  /**
   * The stream's replicas.
   * @default {1}
   */
  readonly replicas?: number;
  /**
   * Entries waiting to be written at most (while NATS is away); past it the newest are
   * dropped and counted.
   * @default {10000}
   */
  readonly maxPending?: number;
  /**
   * Milliseconds one JetStream request may take.
   * @default {3000}
   */
  readonly timeoutMs?: number;
  /** Told when a write fails (it is retried). */
  readonly onError?: (err: unknown) => void;
  /** Told each time an entry is dropped because `maxPending` are waiting. */
  readonly onDrop?: () => void;
}

/** What a cluster chain verification reports beyond the chain itself. */
export interface ClusterAuditVerification extends AuditVerification {
  /** Entries of this node not yet written to the chain. */
  readonly pending: number;
  /** Entries of this node dropped because the queue was full. */
  readonly dropped: number;
}

interface Pending {
  readonly time: string;
  readonly action: string;
  readonly actor: string;
  readonly details: Record<string, unknown>;
}

/** The cluster's audit chain, as one node writes and reads it. */
export class ClusterAudit {
  /** The stream's name. */
  readonly stream: string;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #nodeId: string;
  readonly #maxPending: number;
  readonly #onError: (err: unknown) => void;
  readonly #onDrop: () => void;
  readonly #queue: Pending[] = [];
  #dropped = 0;
  /** The head this node last saw: stream sequence and hash. */
  #head: { seq: number; hash: string } | null = null;
  #writing: Promise<void> | null = null;
  #closed = false;

  private constructor(
    stream: string,
    js: JetStreamClient,
    jsm: JetStreamManager,
    options: ClusterAuditOptions,
  ) {
    this.stream = stream;
    this.#js = js;
    this.#jsm = jsm;
    this.#nodeId = options.nodeId;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#onError = options.onError ?? (() => {});
    this.#onDrop = options.onDrop ?? (() => {});
  }

  /** Opens (creating when missing) the chain's stream. */
  static async open(options: ClusterAuditOptions): Promise<ClusterAudit> {
    const timeout = options.timeoutMs ?? 3000;
    const stream = options.stream ?? "ARQON_AUDIT";
    try {
      const jsm = await jetstreamManager(options.nc, { timeout });
      const js = jetstream(options.nc, { timeout });
      const info = await jsm.streams.info(stream).catch(() => null);
      if (!info) {
        await jsm.streams.add(
          {
            name: stream,
            subjects: [AUDIT_SUBJECT],
            storage: "file",
            num_replicas: options.replicas ?? 1,
            // An audit chain is never trimmed: a gap would break it.
            max_msgs: -1,
            max_bytes: -1,
            max_age: 0,
            deny_delete: true,
            deny_purge: true,
          } as Parameters<typeof jsm.streams.add>[0],
        );
      }
      return new ClusterAudit(stream, js, jsm, options);
    } catch (e) {
      throw governanceUnavailable("open the audit stream", e);
    }
  }

  /** Entries of this node waiting to be written. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Entries of this node dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Queues a local entry for the chain (written in order, in the background). Its
   * `details` gain `node`: the node that made the change.
   */
  append(entry: Pick<AuditEntry, "time" | "action" | "actor" | "details">): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#maxPending) {
      this.#dropped++;
      this.#onDrop();
      return;
    }
    this.#queue.push({
      time: entry.time,
      action: entry.action,
      actor: entry.actor,
      details: { ...entry.details, node: this.#nodeId },
    });
    this.#writing ??= this.#drain().finally(() => this.#writing = null);
  }

  /** Resolves once every queued entry is written (or the chain is closed). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #drain(): Promise<void> {
    let backoff = 50;
    while (this.#queue.length > 0 && !this.#closed) {
      try {
        await this.#write(this.#queue[0]);
        this.#queue.shift();
        backoff = 50;
      } catch (e) {
        this.#head = null;
        if (isWrongLast(e)) continue;
        this.#onError(e);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  async #write(p: Pending): Promise<void> {
    const head = this.#head ?? await this.#readHead();
    const body = {
      seq: head.seq + 1,
      time: p.time,
      action: p.action,
      actor: p.actor,
      details: JSON.parse(JSON.stringify(p.details)) as Record<string, unknown>,
      prev: head.hash,
    };
    const entry: AuditEntry = { ...body, hash: entryHash(body) };
    // Written only if nobody wrote since the head it links: no fork, whoever races.
    const ack = await this.#js.publish(AUDIT_SUBJECT, JSON.stringify(entry), {
      expect: { lastSequence: head.seq, streamName: this.stream },
    });
    if (ack.seq !== entry.seq) {
      // A stream that does not start at 1 (trimmed by hand): the chain is broken there.
      throw new Error(`audit stream stored entry ${entry.seq} at sequence ${ack.seq}`);
    }
    this.#head = { seq: ack.seq, hash: entry.hash };
  }

  async #readHead(): Promise<{ seq: number; hash: string }> {
    const last = await this.#jsm.streams.getMessage(this.stream, { last_by_subj: AUDIT_SUBJECT });
    if (!last) return { seq: 0, hash: GENESIS_HASH };
    const entry = JSON.parse(new TextDecoder().decode(last.data)) as AuditEntry;
    return { seq: last.seq, hash: entry.hash };
  }

  /** Entries with `seq >= from`, at most `limit`, in order, and the chain's length. */
  async list(from = 1, limit = 100): Promise<{ entries: AuditEntry[]; size: number }> {
    try {
      const lines = await this.#lines(from, limit);
      const info = await this.#jsm.streams.info(this.stream);
      return { entries: lines.map((l) => JSON.parse(l)), size: info.state.last_seq };
    } catch (e) {
      throw governanceUnavailable("read the audit stream", e);
    }
  }

  /** Verifies the whole chain as the stream holds it. */
  async verify(): Promise<ClusterAuditVerification> {
    let lines: string[];
    try {
      lines = await this.#lines(1, Number.MAX_SAFE_INTEGER);
    } catch (e) {
      throw governanceUnavailable("read the audit stream", e);
    }
    return { ...verifyLines(lines), pending: this.pending, dropped: this.#dropped };
  }

  async #lines(from: number, limit: number): Promise<string[]> {
    const info = await this.#jsm.streams.info(this.stream);
    const last = info.state.last_seq;
    const want = Math.min(limit, last - from + 1);
    if (want <= 0) return [];
    const consumer = await this.#js.consumers.get(this.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    const lines: string[] = [];
    const decoder = new TextDecoder();
    while (lines.length < want) {
      const batch = await consumer.fetch({
        max_messages: Math.min(want - lines.length, 1000),
        expires: 2000,
      });
      let got = 0;
      for await (const m of batch) {
        lines.push(decoder.decode(m.data));
        got++;
      }
      if (got === 0) throw new Error(`audit stream ended at ${from + lines.length - 1}`);
    }
    await consumer.delete().catch(() => {});
    return lines;
  }

  /** Stops writing (queued entries stay unwritten; `flush` first to write them). */
  close(): void {
    this.#closed = true;
  }
}

function isWrongLast(e: unknown): boolean {
  return e instanceof JetStreamApiError && e.code === WRONG_LAST_SEQUENCE;
}
