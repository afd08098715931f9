/**
 * Revoked tokens: one token by its `jti` (kept until the token would have expired), or
 * every token of a subject issued up to a moment. Checked whenever a token authenticates
 * (hello, HTTP request); bounded, expired entries fall away.
 * @module
 */
import type { Principal } from "./grants.ts";

/** One revocation, as it is stored and shared with the other nodes of a cluster. */
export interface Revocation {
  /** A token id (`jti`), or undefined when a subject is revoked. */
  readonly tokenId?: string;
  /** A subject whose tokens issued at or before `atMs` are void. */
  readonly subject?: string;
  /** When it was revoked (epoch ms). */
  readonly atMs: number;
  /** When the entry may be forgotten (epoch ms): the longest life of a token it voids. */
  readonly untilMs: number;
}

/** The node's revocations. */
export class Revocations {
  readonly #tokens = new Map<string, Revocation>();
  readonly #subjects = new Map<string, Revocation>();
  readonly #max: number;

  /** A list holding at most `max` revocations (the oldest go first when full). */
  constructor(max = 100_000) {
    this.#max = max;
  }

  /** Revocations held. */
  get size(): number {
    return this.#tokens.size + this.#subjects.size;
  }

  /** The key a revocation is shared under: `jti:<id>` or `sub:<subject>`. */
  static keyOf(r: Revocation): string {
    return r.tokenId !== undefined ? `jti:${r.tokenId}` : `sub:${r.subject}`;
  }

  /** Adds (or replaces) a revocation. */
  add(r: Revocation): void {
    if (this.size >= this.#max) this.#prune();
    const map = r.tokenId !== undefined ? this.#tokens : this.#subjects;
    const key = r.tokenId ?? r.subject ?? "";
    map.delete(key);
    if (this.size >= this.#max) {
      const from = map.size > 0 ? map : (map === this.#tokens ? this.#subjects : this.#tokens);
      from.delete(from.keys().next().value!);
    }
    map.set(key, r);
  }

  /** Removes the revocation shared under `key` (`jti:...`/`sub:...`). */
  remove(key: string): void {
    if (key.startsWith("jti:")) this.#tokens.delete(key.slice(4));
    else if (key.startsWith("sub:")) this.#subjects.delete(key.slice(4));
  }

  /** Why `principal`'s token is void, or undefined when it is not revoked. */
  reason(principal: Principal, nowMs = Date.now()): string | undefined {
    if (principal.method !== "token") return undefined;
    if (principal.tokenId !== undefined) {
      const r = this.#tokens.get(principal.tokenId);
      if (r && r.untilMs > nowMs) return "token revoked";
    }
    const s = this.#subjects.get(principal.subject);
    if (s && s.untilMs > nowMs && (principal.issuedAtMs ?? 0) <= s.atMs) {
      return `tokens of ${principal.subject} issued before ${
        new Date(s.atMs).toISOString()
      } revoked`;
    }
    return undefined;
  }

  #prune(): void {
    const now = Date.now();
    for (const map of [this.#tokens, this.#subjects]) {
      for (const [k, r] of map) if (r.untilMs <= now) map.delete(k);
    }
  }
}
