/**
 * Clients the node closed for abuse and keeps out for a while: a kicked flood that
 * reconnects at once would otherwise cost its neighbours a connection setup and a fresh
 * flood many times a second. Keys name a client the way it can be recognised again: a
 * token subject or DID (`id:...`), or an address beyond loopback (`ip:...`).
 * @module
 */
import { isLoopback } from "../tls/mod.ts";

/** Banned clients with their release times; bounded, expired entries fall away. */
export class BanList {
  readonly #until = new Map<string, number>();
  readonly #max: number;

  /** A list holding at most `max` bans (the oldest goes first when it is full). */
  constructor(max = 100_000) {
    this.#max = max;
  }

  /** Bans currently held. */
  get size(): number {
    return this.#until.size;
  }

  /** Bans `key` until `untilMs` (epoch ms). */
  ban(key: string, untilMs: number): void {
    if (this.#until.size >= this.#max) {
      const now = Date.now();
      for (const [k, t] of this.#until) if (t <= now) this.#until.delete(k);
      if (this.#until.size >= this.#max) this.#until.delete(this.#until.keys().next().value!);
    }
    this.#until.delete(key);
    this.#until.set(key, untilMs);
  }

  /** Milliseconds `key` stays banned (0: not banned). */
  remainingMs(key: string | undefined, nowMs = Date.now()): number {
    if (key === undefined) return 0;
    const until = this.#until.get(key);
    if (until === undefined) return 0;
    if (until <= nowMs) {
      this.#until.delete(key);
      return 0;
    }
    return until - nowMs;
  }
}

const IP_LITERAL = /^[0-9a-fA-F:.]+$/;

/**
 * The key a client is banned under: its authenticated subject, else its host when that
 * is beyond loopback (every local process shares 127.0.0.1, so banning it would ban
 * them all); undefined when it cannot be recognised.
 */
export function banKey(subject: string | undefined, host: string | undefined): string | undefined {
  if (subject !== undefined) return `id:${subject}`;
  // Only network addresses (IP literals): shared memory names a slot and a pid, not a host.
  if (host && IP_LITERAL.test(host) && !isLoopback(host)) return `ip:${host}`;
  return undefined;
}
