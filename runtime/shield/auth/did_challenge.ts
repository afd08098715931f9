/**
 * DID challenge-response: the node hands out a random nonce, the agent signs
 * `challengeMessage(nodeId, did, nonce)` with its `did:key`, and the node checks the
 * signature against the key inside the DID. Each nonce answers once: it is forgotten
 * on the first answer, right or wrong, so a captured answer cannot be replayed.
 * @module
 */
import { challengeMessage, verifyDidSignature } from "../../identity/mod.ts";
import { unauthorized } from "./errors.ts";

const NONCE_BYTES = 32;

/** A challenge as sent to the agent. */
export interface Challenge {
  readonly nonce: Uint8Array;
  readonly nodeId: string;
  readonly expiresAtMs: number;
}

/** An agent's answer to a challenge. */
export interface ChallengeAnswer {
  readonly did: string;
  readonly nonce: Uint8Array;
  readonly signature: Uint8Array;
}

/** Options of a `ChallengeIssuer`. */
export interface ChallengeOptions {
  /** How long a nonce stays answerable; default 30 s. */
  readonly ttlMs?: number;
  /** Outstanding nonces kept at most; the oldest are dropped beyond it. Default 10 000. */
  readonly maxOutstanding?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

/** Issues single-use nonces and verifies answers to them. */
export class ChallengeIssuer {
  /** The node id bound into every challenge message. */
  readonly nodeId: string;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  /** Insertion-ordered, so the first entries are the oldest. */
  readonly #outstanding = new Map<string, number>();

  /** Creates an issuer for `nodeId`. */
  constructor(nodeId: string, options: ChallengeOptions = {}) {
    this.nodeId = nodeId;
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#max = options.maxOutstanding ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Nonces issued and not yet answered or expired. */
  get outstanding(): number {
    return this.#outstanding.size;
  }

  /** A fresh challenge. */
  issue(): Challenge {
    const now = this.#now();
    this.#sweep(now);
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const expiresAtMs = now + this.#ttlMs;
    this.#outstanding.set(hex(nonce), expiresAtMs);
    return { nonce, nodeId: this.nodeId, expiresAtMs };
  }

  /**
   * Checks an answer and returns the proven DID; throws UNAUTHORIZED for an unknown,
   * expired or already used nonce or a signature that does not verify.
   */
  verify(answer: ChallengeAnswer): string {
    if (!(answer.nonce instanceof Uint8Array) || answer.nonce.length !== NONCE_BYTES) {
      throw unauthorized("DID answer carries no valid nonce");
    }
    const key = hex(answer.nonce);
    const expiresAtMs = this.#outstanding.get(key);
    this.#outstanding.delete(key);
    if (expiresAtMs === undefined) {
      throw unauthorized("DID challenge unknown or already answered (replay refused)");
    }
    if (this.#now() > expiresAtMs) throw unauthorized("DID challenge expired");
    const message = challengeMessage(this.nodeId, answer.did, answer.nonce);
    if (!verifyDidSignature(answer.did, message, answer.signature)) {
      throw unauthorized("DID signature does not verify");
    }
    return answer.did;
  }

  #sweep(now: number): void {
    for (const [key, expiresAtMs] of this.#outstanding) {
      if (expiresAtMs >= now && this.#outstanding.size < this.#max) break;
      this.#outstanding.delete(key);
    }
  }
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
