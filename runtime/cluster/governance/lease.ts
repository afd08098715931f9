/**
 * Leases in a JetStream KV bucket: each operator of a cluster runs on the one node holding
 * its lease. A lease is a record `{node, untilMs}` under the operator's name, taken with a
 * create (no record yet) or an update fenced by the revision read (an expired record),
 * and renewed by its holder with updates fenced by its own last revision: whoever writes
 * in between (a node that took over an expired lease) makes the holder's next renewal
 * fail, and the holder stops. No clocks are compared across machines beyond the expiry a
 * holder wrote for itself.
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { governanceUnavailable, leaseHeld } from "./errors.ts";
import { keyOf } from "./sync.ts";

/** A lease record. */
export interface LeaseRecord {
  /** The holder's id (`<node id>/<instance>`). */
  readonly node: string;
  /** When it expires unless renewed (epoch ms, the holder's clock). */
  readonly untilMs: number;
}

/** Options of {@linkcode Leases.open}. */
export interface LeasesOptions {
  /** The node's NATS connection. */
  readonly nc: NatsConnection;
  /** The holder's id written into leases. */
  readonly holder: string;
  /**
   * The bucket.
   * @default {"ARQON_LEASES"}
   */
  readonly bucket?: string;
  /**
   * Lease life (ms); renewed every third of it.
   * @default {3000}
   */
  readonly ttlMs?: number;
  /** Replicas of the bucket. */
  readonly replicas?: number;
}

/** The leases one node takes, renews and gives up. */
export class Leases {
  /** This node's holder id. */
  readonly holder: string;
  /** Lease life in ms. */
  readonly ttlMs: number;
  readonly #kv: KV;
  /** Revision of each lease this node holds. */
  readonly #held = new Map<string, number>();

  private constructor(kv: KV, options: LeasesOptions) {
    this.#kv = kv;
    this.holder = options.holder;
    this.ttlMs = options.ttlMs ?? 3000;
  }

  /** Opens (creating when missing) the lease bucket. */
  static async open(options: LeasesOptions): Promise<Leases> {
    try {
      const js = jetstream(options.nc, { timeout: 3000 });
      const kv = await new Kvm(js).create(options.bucket ?? "ARQON_LEASES", {
        history: 1,
        replicas: options.replicas ?? 1,
      });
      return new Leases(kv, options);
    } catch (e) {
      throw governanceUnavailable("open the lease bucket", e);
    }
  }

  /** Whether this node holds `name`'s lease (as of its last acquire or renewal). */
  holds(name: string): boolean {
    return this.#held.has(name);
  }

  /** The current record of `name`'s lease, or null. */
  async current(name: string): Promise<LeaseRecord | null> {
    try {
      const e = await this.#kv.get(keyOf("operator", name));
      return e && e.operation === "PUT" ? e.json<LeaseRecord>() : null;
    } catch (e) {
      throw governanceUnavailable(`read lease ${name}`, e);
    }
  }

  /**
   * Takes `name`'s lease when nobody holds it or its holder let it expire; renews it when
   * this node holds it. Resolves true when this node holds it afterwards, false when it
   * lost it (another node wrote since). Throws `LEASE_HELD` (a live lease of another node)
   * or `GOVERNANCE_UNAVAILABLE`.
   */
  async acquire(name: string): Promise<boolean> {
    const key = keyOf("operator", name);
    const record = (): Uint8Array =>
      new TextEncoder().encode(
        JSON.stringify({ node: this.holder, untilMs: Date.now() + this.ttlMs }),
      );
    try {
      const mine = this.#held.get(name);
      if (mine !== undefined) {
        try {
          this.#held.set(name, await this.#kv.update(key, record(), mine));
          return true;
        } catch (e) {
          if (!isWrongLast(e)) throw e;
          this.#held.delete(name);
          return false;
        }
      }
      const e = await this.#kv.get(key);
      if (!e || e.operation !== "PUT") {
        try {
          this.#held.set(name, await this.#kv.create(key, record()));
          return true;
        } catch (err) {
          if (isWrongLast(err) || /wrong last sequence|key exists/i.test(String(err))) {
            return false;
          }
          throw err;
        }
      }
      const current = e.json<LeaseRecord>();
      if (current.node !== this.holder && current.untilMs > Date.now()) {
        throw leaseHeld(name, current.node, current.untilMs);
      }
      try {
        this.#held.set(name, await this.#kv.update(key, record(), e.revision));
        return true;
      } catch (err) {
        if (isWrongLast(err)) return false;
        throw err;
      }
    } catch (e) {
      throw governanceUnavailable(`lease ${name}`, e);
    }
  }

  /** Gives every lease this node holds up (a node shutting down). */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.#held.keys()].map((name) => this.release(name)));
  }

  /** Gives `name`'s lease up (deleted only if still this node's). */
  async release(name: string): Promise<void> {
    const mine = this.#held.get(name);
    this.#held.delete(name);
    if (mine === undefined) return;
    await this.#kv.delete(keyOf("operator", name), { previousSeq: mine }).catch(() => {});
  }
}

function isWrongLast(e: unknown): boolean {
  return /wrong last sequence/i.test(e instanceof Error ? e.message : String(e));
}
