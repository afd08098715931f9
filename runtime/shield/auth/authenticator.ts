/**
 * The Shield's single entry for "who is this?": bearer tokens on HTTP and in the hello,
 * `did:key` challenge-response in the hello, or nothing at all when the node runs open
 * (loopback only; `listen_guard` enforces that).
 * @module
 */
import { unauthorized } from "./errors.ts";
import { type Challenge, type ChallengeAnswer, ChallengeIssuer } from "./did_challenge.ts";
import type { DidDirectory } from "./did_directory.ts";
import { OPEN_GRANTS, type Principal } from "./grants.ts";
import { Revocations } from "./revocations.ts";
import type { TokenVerifier } from "./token.ts";

/** Largest hello frame the Shield should decode; covers an 8 KB token or an ML-DSA-87 answer. */
export const MAX_HELLO_BYTES = 16384;

/** The credential fields of a hello (`token`, and `did`/`nonce`/`signature` for a DID). */
export interface HelloCredentials {
  readonly clientName?: string | null;
  readonly token?: string | null;
  readonly did?: string | null;
  readonly nonce?: Uint8Array | null;
  readonly signature?: Uint8Array | null;
}

/** Result of a hello: a principal, or a challenge the agent must sign and send back. */
export type HelloOutcome =
  | { readonly principal: Principal; readonly challenge?: undefined }
  | { readonly challenge: Challenge; readonly principal?: undefined };

/** Configuration: with neither tokens nor DIDs the node is open. */
export interface AuthenticatorOptions {
  readonly tokens?: TokenVerifier;
  readonly dids?: DidDirectory;
  /** The node id bound into DID challenges. */
  readonly nodeId?: string;
  /** DID challenge lifetime; default 30 s. */
  readonly challengeTtlMs?: number;
}

/** Authenticates connections and requests. */
export class Authenticator {
  /** False when the node runs open: every caller gets full grants. */
  readonly required: boolean;
  readonly #tokens?: TokenVerifier;
  readonly #dids?: DidDirectory;
  readonly #challenges?: ChallengeIssuer;
  /** Revoked tokens, checked at every token authentication. */
  readonly revocations: Revocations = new Revocations();

  /** Creates the authenticator; no options means an open node. */
  constructor(options: AuthenticatorOptions = {}) {
    this.#tokens = options.tokens;
    this.#dids = options.dids;
    if (options.dids) {
      this.#challenges = new ChallengeIssuer(options.nodeId ?? "arqon", {
        ttlMs: options.challengeTtlMs,
      });
    }
    this.required = Boolean(options.tokens || options.dids);
  }

  /** Authenticates an HTTP request from its `Authorization` header. */
  async fromAuthorization(header: string | null | undefined): Promise<Principal> {
    if (!this.required) return openPrincipal("http");
    if (!header) throw unauthorized("authentication required: send Authorization: Bearer <token>");
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthorized("Authorization header must be: Bearer <token>");
    return await this.#verifyToken(match[1]);
  }

  /**
   * Authenticates a hello. A hello with a `did` but no signature gets a challenge; the
   * agent then sends a second hello with `did`, `nonce` and `signature`.
   */
  async fromHello(hello: HelloCredentials): Promise<HelloOutcome> {
    if (!this.required) return { principal: openPrincipal(hello.clientName || "anonymous") };
    if (hello.token) return { principal: await this.#verifyToken(hello.token) };
    if (hello.did) {
      if (!this.#dids || !this.#challenges) {
        throw unauthorized("this node does not accept DID authentication");
      }
      if (!hello.signature?.length) return { challenge: this.#challenges.issue() };
      const did = this.#challenges.verify({
        did: hello.did,
        nonce: hello.nonce ?? new Uint8Array(0),
        signature: hello.signature,
      });
      return { principal: this.#dids.principalFor(did) };
    }
    throw unauthorized("authentication required: hello carries no token and no did");
  }

  /** A DID challenge for an HTTP client (`POST /v1/auth/challenge`). */
  challenge(): Challenge {
    if (!this.#challenges) throw unauthorized("this node does not accept DID authentication");
    return this.#challenges.issue();
  }

  /** Verifies an answer to `challenge()` and returns the DID's principal. */
  answer(answer: ChallengeAnswer): Principal {
    if (!this.#dids || !this.#challenges) {
      throw unauthorized("this node does not accept DID authentication");
    }
    return this.#dids.principalFor(this.#challenges.verify(answer));
  }

  async #verifyToken(token: string): Promise<Principal> {
    if (!this.#tokens) throw unauthorized("this node does not accept tokens");
    const principal = await this.#tokens.verify(token);
    const revoked = this.revocations.reason(principal);
    if (revoked) throw unauthorized(revoked);
    return principal;
  }
}

function openPrincipal(subject: string): Principal {
  return { ...OPEN_GRANTS, subject, method: "open" };
}
