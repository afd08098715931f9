/**
 * Shared governance of a cluster: one JetStream KV bucket holds every node's governance
 * state (policies, control parameters, bans, token revocations, ...) under
 * `<kind>.<name>` keys, and an object store holds the components they name by digest.
 * Each node writes its local changes here and applies everyone else's from a KV watch, in
 * the bucket's revision order: the last writer wins, every node ends on the same value,
 * and a node that starts later loads the current state before it serves.
 *
 * No consensus of our own: JetStream orders the writes; this file only keeps, per key, the
 * revision it last saw so a late echo never undoes a newer value.
 * @module
 */
import { Buffer } from "node:buffer";
import type { NatsConnection, QueuedIterator } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { type KV, Kvm, type KvWatchEntry } from "@nats-io/kv";
import { type ObjectStore, Objm } from "@nats-io/obj";
import { BusError } from "../../protocol/mod.ts";
import { governanceUnavailable } from "./errors.ts";

/** What the shared store holds, one kind per key prefix. */
export type GovernanceKind =
  | "policy"
  | "params"
  | "ban"
  | "revoke"
  | "operator"
  | "circuit"
  | "reality";

/** A change as handlers receive it. */
export interface GovernanceChange {
  /** Its kind. */
  readonly kind: GovernanceKind;
  /** The name within the kind (a policy's name, a reality, a ban key, ...). */
  readonly name: string;
  /** The value (JSON), or null when it was deleted. */
  readonly value: unknown;
  /** The writer: `<node id>/<instance>`. */
  readonly origin: string;
  /** The bucket's revision of this write. */
  readonly revision: number;
}

/** Applies a change made elsewhere to this node; awaited before the next one. */
export type GovernanceHandler = (change: GovernanceChange) => void | Promise<void>;

/** Options of {@linkcode GovernanceSync.open}. */
export interface GovernanceSyncOptions {
  /** The node's NATS connection (JetStream on). */
  readonly nc: NatsConnection;
  /** The node's id (written with each change). */
  readonly nodeId: string;
  /**
   * KV bucket of governance records.
   * @default {"ARQON_GOVERNANCE"}
   */
  readonly bucket?: string;
  /**
   * Object store of components, by digest.
   * @default {"ARQON_COMPONENTS"}
   */
  readonly objects?: string;
  /**
   * Replicas of the bucket and the object store.
   * @default {1}
   */
  readonly replicas?: number;
  /**
   * Largest record (JSON bytes) one key may hold; the bucket enforces it too.
   * @default {262144}
   */
  readonly maxValueBytes?: number;
  /**
   * Most keys of one kind (bans and revocations past it first drop expired ones).
   * @default {10000}
   */
  readonly maxKeysPerKind?: number;
  /**
   * Milliseconds a KV or object-store request may take before the change is refused
   * with `GOVERNANCE_UNAVAILABLE`.
   * @default {3000}
   */
  readonly timeoutMs?: number;
  /** Told about a handler that failed (the change stays unapplied on this node). */
  readonly onError?: (change: GovernanceChange, err: unknown) => void;
  /**
   * Told each time a bound refuses a record: `governance_record_bytes` or `governance_keys`
   * (the node counts them in `arqon_limit_hits_total`).
   */
  readonly onLimit?: (limit: "governance_record_bytes" | "governance_keys") => void;
}

const KINDS: ReadonlySet<string> = new Set([
  "policy",
  "params",
  "ban",
  "revoke",
  "operator",
  "circuit",
  "reality",
]);

/** The cluster's governance records, kept in step on every node. */
export class GovernanceSync {
  /** This node's origin mark: `<node id>/<instance>`. */
  readonly origin: string;
  /** Largest record accepted. */
  readonly maxValueBytes: number;
  /** Most keys per kind. */
  readonly maxKeysPerKind: number;
  readonly #kv: KV;
  readonly #objects: ObjectStore;
  readonly #handlers = new Map<GovernanceKind, GovernanceHandler>();
  readonly #onError: NonNullable<GovernanceSyncOptions["onError"]>;
  readonly #onLimit: NonNullable<GovernanceSyncOptions["onLimit"]>;
  /** The revision last seen per key: a late echo never undoes a newer value. */
  readonly #revisions = new Map<string, number>();
  /** Live keys per kind (deleted ones leave), for the key bound. */
  readonly #live = new Map<GovernanceKind, Map<string, unknown>>();
  #watch?: QueuedIterator<KvWatchEntry>;
  #applied = 0;

  private constructor(
    origin: string,
    kv: KV,
    objects: ObjectStore,
    options: GovernanceSyncOptions,
  ) {
    this.origin = origin;
    this.#kv = kv;
    this.#objects = objects;
    this.maxValueBytes = options.maxValueBytes ?? 256 << 10;
    this.maxKeysPerKind = options.maxKeysPerKind ?? 10_000;
    this.#onError = options.onError ?? (() => {});
    this.#onLimit = options.onLimit ?? (() => {});
  }

  /**
   * Opens (creating when missing) the bucket and the object store. Register handlers with
   * {@linkcode on}, then {@linkcode start} loads the current state and follows changes.
   *
   * @example
   * ```ts ignore
   * const sync = await GovernanceSync.open({ nc, nodeId: "n1" });
   * sync.on("params", (c) => console.log(c.name, c.value));
   * await sync.start(); // resolves once every current record was applied
   * await sync.put("params", "lab", { version: 1, params: { gain: 2 } });
   * ```
   */
  static async open(options: GovernanceSyncOptions): Promise<GovernanceSync> {
    const timeout = options.timeoutMs ?? 3000;
    const js = jetstream(options.nc, { timeout });
    const replicas = options.replicas ?? 1;
    const maxValueBytes = options.maxValueBytes ?? 256 << 10;
    try {
      const kv = await new Kvm(js).create(options.bucket ?? "ARQON_GOVERNANCE", {
        history: 1,
        replicas,
        maxValueSize: maxValueBytes + 1024,
        timeout,
      });
      const objects = await new Objm(js).create(options.objects ?? "ARQON_COMPONENTS", {
        replicas,
      });
      const origin = `${options.nodeId}/${crypto.randomUUID().slice(0, 8)}`;
      return new GovernanceSync(origin, kv, objects, options);
    } catch (e) {
      throw governanceUnavailable("open", e);
    }
  }

  /** Sets the handler of `kind` (one per kind); changes of kinds without one are kept only. */
  on(kind: GovernanceKind, handler: GovernanceHandler): void {
    this.#handlers.set(kind, handler);
  }

  /** Changes applied from the bucket so far (initial load included). */
  get applied(): number {
    return this.#applied;
  }

  /** The live records of `kind`, by name (as last seen here). */
  records(kind: GovernanceKind): ReadonlyMap<string, unknown> {
    return this.#live.get(kind) ?? new Map();
  }

  /**
   * Loads every current record through the handlers, then keeps following the bucket.
   * Resolves once the current state is applied (a node serves only after that).
   */
  async start(): Promise<void> {
    let pending: number;
    try {
      pending = (await this.#kv.status()).values;
      this.#watch = await this.#kv.watch();
    } catch (e) {
      throw governanceUnavailable("watch", e);
    }
    const { promise: loaded, resolve } = Promise.withResolvers<void>();
    if (pending === 0) resolve();
    void (async () => {
      for await (const entry of this.#watch!) {
        await this.#entry(entry);
        // `delta` counts the entries still pending behind this one at watch start.
        if (!entry.isUpdate && entry.delta === 0) resolve();
        if (entry.isUpdate) resolve();
      }
      resolve();
    })();
    await loaded;
  }

  async #entry(entry: KvWatchEntry): Promise<void> {
    const dot = entry.key.indexOf(".");
    const kind = entry.key.slice(0, dot) as GovernanceKind;
    if (dot < 0 || !KINDS.has(kind)) return;
    let name: string;
    try {
      name = decodeName(entry.key.slice(dot + 1));
    } catch {
      return;
    }
    if ((this.#revisions.get(entry.key) ?? 0) >= entry.revision) return;
    this.#revisions.set(entry.key, entry.revision);
    let origin = "";
    let value: unknown = null;
    if (entry.operation === "PUT") {
      try {
        const record = entry.json<{ o: string; v: unknown }>();
        origin = record.o;
        value = record.v;
      } catch {
        return;
      }
    }
    this.#remember(kind, name, value);
    // Our own writes were applied before they were written.
    if (origin === this.origin) return;
    const change: GovernanceChange = { kind, name, value, origin, revision: entry.revision };
    const handler = this.#handlers.get(kind);
    try {
      await handler?.(change);
      this.#applied++;
    } catch (e) {
      this.#onError(change, e);
    }
  }

  #remember(kind: GovernanceKind, name: string, value: unknown): void {
    let live = this.#live.get(kind);
    if (!live) this.#live.set(kind, live = new Map());
    if (value === null) live.delete(name);
    else live.set(name, value);
  }

  /**
   * Checks a record against the bounds without writing it, so a caller with other writes
   * to make first (a component, a lease) refuses before any of them. Throws what
   * {@linkcode put} would: `FRAME_TOO_LARGE`, `QUOTA_EXCEEDED`.
   */
  async check(kind: GovernanceKind, name: string, value: unknown): Promise<void> {
    await this.#admit(kind, name, this.#encode(value));
  }

  #encode(value: unknown): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ o: this.origin, t: Date.now(), v: value }));
  }

  async #admit(kind: GovernanceKind, name: string, bytes: Uint8Array): Promise<void> {
    if (bytes.length > this.maxValueBytes) {
      this.#onLimit("governance_record_bytes");
      throw new BusError(
        "FRAME_TOO_LARGE",
        `governance record ${kind} ${name.slice(0, 64)} takes ${bytes.length} bytes, more ` +
          `than the limit of ${this.maxValueBytes}`,
      );
    }
    const live = this.#live.get(kind);
    if (live && !live.has(name) && live.size >= this.maxKeysPerKind) {
      // Bans and revocations end (`untilMs`): expired ones make room before a refusal.
      if (kind === "ban" || kind === "revoke") await this.#dropExpired(kind, live);
      if (live.size >= this.maxKeysPerKind) {
        this.#onLimit("governance_keys");
        throw new BusError(
          "QUOTA_EXCEEDED",
          `cluster governance holds ${live.size} ${kind} records, the limit of ` +
            `${this.maxKeysPerKind}`,
        );
      }
    }
  }

  /**
   * Writes a record made on this node (already applied here). Throws `BusError`:
   * `FRAME_TOO_LARGE` over `maxValueBytes`, `QUOTA_EXCEEDED` past `maxKeysPerKind`,
   * `GOVERNANCE_UNAVAILABLE` when NATS does not confirm it.
   */
  async put(kind: GovernanceKind, name: string, value: unknown): Promise<number> {
    const key = keyOf(kind, name);
    const bytes = this.#encode(value);
    await this.#admit(kind, name, bytes);
    let revision: number;
    try {
      revision = await this.#kv.put(key, bytes);
    } catch (e) {
      throw governanceUnavailable(`write ${kind} ${name}`, e);
    }
    if ((this.#revisions.get(key) ?? 0) < revision) {
      this.#revisions.set(key, revision);
      this.#remember(kind, name, value);
    }
    return revision;
  }

  /** Deletes a record (already removed here); `GOVERNANCE_UNAVAILABLE` when it cannot. */
  async delete(kind: GovernanceKind, name: string): Promise<void> {
    try {
      await this.#kv.delete(keyOf(kind, name));
    } catch (e) {
      throw governanceUnavailable(`delete ${kind} ${name}`, e);
    }
    this.#remember(kind, name, null);
  }

  async #dropExpired(kind: GovernanceKind, live: Map<string, unknown>): Promise<void> {
    const now = Date.now();
    for (const [name, value] of [...live]) {
      const until = (value as { untilMs?: number } | null)?.untilMs ?? 0;
      if (until <= now) await this.delete(kind, name).catch(() => {});
    }
  }

  /** Stores a component under its digest (once: an existing one is kept). */
  async putComponent(digest: string, bytes: Uint8Array): Promise<void> {
    try {
      const info = await this.#objects.info(digest);
      if (info && !info.deleted && info.size === bytes.length) return;
      await this.#objects.putBlob({ name: digest }, bytes);
    } catch (e) {
      throw governanceUnavailable(`store component ${digest.slice(0, 12)}`, e);
    }
  }

  /** The component stored under `digest`; `GOVERNANCE_UNAVAILABLE` when missing or unreachable. */
  async component(digest: string): Promise<Uint8Array> {
    let bytes: Uint8Array | null;
    try {
      bytes = await this.#objects.getBlob(digest);
    } catch (e) {
      throw governanceUnavailable(`read component ${digest.slice(0, 12)}`, e);
    }
    if (!bytes) {
      throw new BusError(
        "GOVERNANCE_UNAVAILABLE",
        `component ${digest.slice(0, 12)} is missing from the cluster's object store`,
      );
    }
    return bytes;
  }

  /** Stops following the bucket (the connection stays open: the node owns it). */
  close(): void {
    this.#watch?.stop();
  }
}

/** The bucket key of a record: `<kind>.<name as base64url>` (any name is a valid key). */
export function keyOf(kind: GovernanceKind, name: string): string {
  if (name === "") throw new BusError("INVALID_ARGUMENT", `a ${kind} record needs a name`);
  return `${kind}.${Buffer.from(name, "utf8").toString("base64url")}`;
}

function decodeName(token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new Error("not base64url");
  return Buffer.from(token, "base64url").toString("utf8");
}
