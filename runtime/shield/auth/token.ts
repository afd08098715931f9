/**
 * Bearer tokens: JWTs signed with the node's Ed25519 key (EdDSA, through `jose`). Claims:
 * `sub`, `realities`, `publish`/`subscribe` (`{allow, deny}` topic patterns), `roles`,
 * `exp`, `iat`, `jti`. Verification happens once per session; the per-message check is
 * the `PermissionChecker`.
 * @module
 */
import * as jose from "jose";
import type { BusError } from "../../protocol/mod.ts";
import { unauthorized } from "./errors.ts";
import { type Grants, parseGrants, type Principal } from "./grants.ts";
import type { NodeSigningKey } from "./node_key.ts";

/** Largest token accepted; bigger ones are refused before any parsing. */
export const MAX_TOKEN_BYTES = 8192;
const ISSUER = "arqon";
const AUDIENCE = "arqon.v1";

/** What a token grants to whom, and for how long. */
export interface TokenRequest extends Partial<Grants> {
  readonly subject: string;
  /** Lifetime in seconds; default one hour. */
  readonly ttlSeconds?: number;
}

/** Signs a token for `request` with `key`. */
export async function issueToken(key: NodeSigningKey, request: TokenRequest): Promise<string> {
  const grants = parseGrants({
    realities: request.realities ?? [],
    publish: request.publish,
    subscribe: request.subscribe,
    roles: request.roles,
    lanes: request.lanes,
  });
  const ttl = request.ttlSeconds ?? 3600;
  if (!(ttl > 0)) throw new TypeError("ttlSeconds must be positive");
  return await new jose.SignJWT({ ...grants })
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: "JWT" })
    .setSubject(request.subject)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + Math.floor(ttl))
    .sign(key.privateKey);
}

/** Verifies tokens against a set of public keys (several during a key rotation). */
export class TokenVerifier {
  readonly #keys: ReturnType<typeof jose.createLocalJWKSet>;
  readonly #clockToleranceSeconds: number;

  /** `keys` are public Ed25519 JWKs with `kid`. */
  constructor(keys: readonly jose.JWK[], options: { clockToleranceSeconds?: number } = {}) {
    if (keys.length === 0) throw new TypeError("TokenVerifier needs at least one key");
    this.#keys = jose.createLocalJWKSet({ keys: keys.map((k) => ({ ...k, alg: "EdDSA" })) });
    this.#clockToleranceSeconds = options.clockToleranceSeconds ?? 5;
  }

  /** Verifies `token` and returns its principal; rejects with an UNAUTHORIZED `BusError`. */
  async verify(token: string): Promise<Principal> {
    if (typeof token !== "string" || token.length === 0) throw unauthorized("no token");
    if (token.length > MAX_TOKEN_BYTES) {
      throw unauthorized(`token larger than ${MAX_TOKEN_BYTES} bytes`);
    }
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, this.#keys, {
        algorithms: ["EdDSA"],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ["sub", "exp"],
        clockTolerance: this.#clockToleranceSeconds,
      }));
    } catch (e) {
      throw describe(e);
    }
    let grants: Grants;
    try {
      grants = parseGrants(payload);
    } catch (e) {
      throw unauthorized(`token claims invalid: ${(e as Error).message}`);
    }
    return {
      ...grants,
      subject: payload.sub!,
      method: "token",
      expiresAtMs: payload.exp! * 1000,
      tokenId: typeof payload.jti === "string" ? payload.jti : undefined,
      issuedAtMs: typeof payload.iat === "number" ? payload.iat * 1000 : undefined,
    };
  }
}

function describe(e: unknown): BusError {
  const code = (e as { code?: string }).code;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return unauthorized("token expired");
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return unauthorized("token signature does not verify");
    case "ERR_JWKS_NO_MATCHING_KEY":
      return unauthorized("token signed by an unknown key");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return unauthorized(`token claim invalid: ${(e as Error).message}`);
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return unauthorized("token algorithm not allowed (EdDSA only)");
    default:
      return unauthorized("malformed token");
  }
}
