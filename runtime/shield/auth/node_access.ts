/**
 * The Shield's security in one place, for the node to hold: who may connect (tokens,
 * DIDs, or open on loopback), what each session may do (permissions), how fast
 * (rate limits) and how much (quotas). The node creates one `NodeAccess`; each
 * connection or HTTP request gets a `SessionAccess`. Every refusal is a `BusError`
 * with a protocol code and counts in a metric.
 * @module
 */
import { Buffer } from "node:buffer";
import type client from "prom-client";
import { BusError } from "../../protocol/mod.ts";
import type { Logger } from "../../telemetry/mod.ts";
import {
  type ConnectionRateLimiter,
  isQuotaRefusal,
  type QuotaKind,
  RateLimiter,
  RealityQuotas,
  type Release,
} from "../limits/mod.ts";
import { formatAddress, hostOf, type PeerAddress } from "../tls/mod.ts";
import type { AccessHost } from "./access_host.ts";
import { Authenticator } from "./authenticator.ts";
import { BanList } from "./ban_list.ts";
import type { Revocation } from "./revocations.ts";
import { ClientRateTable } from "./client_rate_table.ts";
import { DidDirectory } from "./did_directory.ts";
import { forbidden } from "./errors.ts";
import { type Grants, parseGrants, type Principal, type Role } from "./grants.ts";
import { type NodeSigningKey, readNodeKeyFile, readVerificationKeys } from "./node_key.ts";
import { SECURITY_DEFAULTS, type SecurityOptions } from "./security_options.ts";
import { SecurityMetrics } from "./security_metrics.ts";
import { SessionAccess } from "./session_access.ts";
import { issueToken, TokenVerifier } from "./token.ts";

/** Longest life of a token exchanged for a DID answer over HTTP. */
const DID_TOKEN_MAX_SECONDS = 900;

/** The audit log as the Shield uses it (`AuditLog` of `runtime/telemetry/audit`). */
export interface AuditSink {
  append(action: string, actor: string, details: Record<string, unknown>): unknown;
}

/**
 * Shares bans and revocations made on this node with the other nodes of a cluster (the
 * node wires it to the cluster's governance store).
 */
export interface GovernanceReplicator {
  /** A client banned here (fire and forget: the ban holds here whatever happens). */
  ban(key: string, untilMs: number): void;
  /** A revocation made here; a rejection refuses it (`GOVERNANCE_UNAVAILABLE`). */
  revoke(revocation: Revocation): Promise<void>;
}

/** The node-wide security state. */
export class NodeAccess implements AccessHost {
  /** Authentication is configured: every session must prove who it is. */
  readonly required: boolean;
  /** The options the node was started with. */
  readonly options: Readonly<SecurityOptions>;
  readonly #auth: Authenticator;
  #signer?: NodeSigningKey;
  readonly #rates: RateLimiter;
  readonly #quotas: RealityQuotas;
  readonly #metrics: SecurityMetrics;
  readonly #limitsOn: boolean;
  /** Per-client buckets of HTTP publishers; only with per-connection limits. */
  readonly #clients?: ClientRateTable<ConnectionRateLimiter>;
  #audit?: AuditSink;
  readonly #bans = new BanList();
  #replicator?: GovernanceReplicator;
  /** Abuse entries recently audited per action and client, for `auditAbuse`. */
  #abuse = new Map<string, { atMs: number; suppressed: number }>();

  /** Prefer `NodeAccess.create`, which reads the key files. */
  constructor(
    options: Partial<SecurityOptions>,
    authenticator: Authenticator,
    registry: client.Registry,
  ) {
    const o = { ...SECURITY_DEFAULTS, ...options };
    this.options = o;
    this.#auth = authenticator;
    this.required = authenticator.required;
    const metrics = this.#metrics = new SecurityMetrics(registry);
    this.#rates = new RateLimiter({
      perConnection: { pulsesPerSecond: o.ratePulses, bytesPerSecond: o.rateBytes },
      perReality: { pulsesPerSecond: o.realityRatePulses, bytesPerSecond: o.realityRateBytes },
    }, (reality, r) => metrics.rateLimited.labels(reality, r.scope, r.unit).inc());
    this.#quotas = new RealityQuotas({
      perReality: {
        maxConnections: o.realityMaxConnections,
        maxSubscriptions: o.realityMaxSubscriptions,
        maxStoredBytes: o.realityMaxStoredBytes,
      },
    }, (reality, r) => metrics.quotaExceeded.labels(reality, r.kind).inc());
    if (o.ratePulses > 0 || o.rateBytes > 0) {
      const rates = this.#rates;
      this.#clients = new ClientRateTable(() => rates.forConnection(), {
        maxClients: o.httpRateClients,
        onSize: (n) => metrics.httpRateClients.set(n),
        onEvict: () => metrics.httpRateEvictions.inc(),
      });
    }
    this.#limitsOn = o.ratePulses > 0 || o.rateBytes > 0 || o.realityRatePulses > 0 ||
      o.realityRateBytes > 0 || o.realityMaxConnections > 0 || o.realityMaxSubscriptions > 0 ||
      o.realityMaxStoredBytes > 0;
  }

  /** Reads the token keys and DID grants named by `options`. */
  static async create(
    options: Partial<SecurityOptions>,
    nodeId: string,
    registry: client.Registry,
  ): Promise<NodeAccess> {
    const tokens = options.authKey
      ? new TokenVerifier(await readVerificationKeys(options.authKey))
      : undefined;
    const dids = options.authDids ? await DidDirectory.fromFile(options.authDids) : undefined;
    const access = new NodeAccess(options, new Authenticator({ tokens, dids, nodeId }), registry);
    // A private node key (not a public JWK Set) lets the node issue tokens itself.
    if (options.authKey) {
      try {
        access.#signer = await readNodeKeyFile(options.authKey);
      } catch { /* a JWK Set of public keys: verify only */ }
    }
    return access;
  }

  /** `POST /v1/auth/challenge`: a nonce for an HTTP client holding a `did:key`. */
  didChallenge(): { nonce: string; nodeId: string; expiresAtMs: number } {
    try {
      const c = this.#auth.challenge();
      return { nonce: encodeBase64(c.nonce), nodeId: c.nodeId, expiresAtMs: c.expiresAtMs };
    } catch (e) {
      throw this.refused(e, "http");
    }
  }

  /**
   * `POST /v1/auth/did`: exchanges a signed challenge for a short-lived bearer token with
   * the DID's grants (at most 15 minutes), audited as `token.issue`.
   */
  async didToken(request: unknown, client?: PeerAddress): Promise<string> {
    const r = (request ?? {}) as Record<string, unknown>;
    if (
      typeof r.did !== "string" || typeof r.nonce !== "string" || typeof r.signature !== "string"
    ) {
      throw new BusError(
        "INVALID_ARGUMENT",
        "expected {did, nonce, signature} (nonce and signature base64)",
      );
    }
    if (!this.#signer) {
      throw new BusError("NOT_FOUND", "this node holds no signing key to issue tokens");
    }
    let principal: Principal;
    try {
      principal = this.#auth.answer({
        did: r.did,
        nonce: decodeBase64(r.nonce),
        signature: decodeBase64(r.signature),
      });
    } catch (e) {
      throw this.refused(e, "http");
    }
    const ttlSeconds = Math.min(
      Number(r.ttlSeconds ?? DID_TOKEN_MAX_SECONDS),
      DID_TOKEN_MAX_SECONDS,
    );
    if (!(ttlSeconds > 0)) throw new BusError("INVALID_ARGUMENT", "ttlSeconds must be positive");
    const token = await issueToken(this.#signer, { ...principal, ttlSeconds });
    this.audit("token.issue", principal.subject, {
      method: "did",
      ttlSeconds,
      kid: this.#signer.kid,
      ...(client ? { remote: formatAddress(client) } : {}),
    });
    return token;
  }

  /**
   * Issues a token on behalf of an admin caller (`POST /v1/tokens`) and audits it.
   * Throws FORBIDDEN for non-admins, NOT_FOUND when the node holds no private key.
   */
  async issueToken(caller: SessionAccess, request: unknown): Promise<string> {
    const principal = caller.principal;
    if (!principal || !principal.roles.includes("admin")) {
      throw this.refused(new BusError("FORBIDDEN", "issuing tokens needs the admin role"), "http");
    }
    if (!this.#signer) {
      throw new BusError("NOT_FOUND", "this node verifies tokens but holds no signing key");
    }
    const r = (request ?? {}) as Record<string, unknown>;
    if (typeof r.subject !== "string" || r.subject === "") {
      throw new BusError("INVALID_ARGUMENT", "subject must be a non-empty string");
    }
    let grants: Grants;
    try {
      grants = parseGrants(r);
    } catch (e) {
      throw new BusError("INVALID_ARGUMENT", (e as Error).message);
    }
    const ttlSeconds = r.ttlSeconds === undefined ? 3600 : Number(r.ttlSeconds);
    if (!(ttlSeconds > 0)) throw new BusError("INVALID_ARGUMENT", "ttlSeconds must be positive");
    const token = await issueToken(this.#signer, { ...grants, subject: r.subject, ttlSeconds });
    this.audit("token.issue", principal.subject, {
      subject: r.subject,
      realities: grants.realities,
      roles: grants.roles,
      ttlSeconds,
      kid: this.#signer.kid,
      ...(caller.remote ? { remote: caller.remote } : {}),
    });
    return token;
  }

  /**
   * Revokes tokens on behalf of an admin caller (`POST /v1/tokens/revoke`): one token by
   * `jti`, or every token of `subject` issued until now. Audited as `token.revoke`; shared
   * with the cluster first when the node is in one. Throws FORBIDDEN for non-admins,
   * INVALID_ARGUMENT for a request naming neither or both.
   */
  async revoke(caller: SessionAccess, request: unknown): Promise<Revocation> {
    const principal = caller.principal;
    if (!principal || !principal.roles.includes("admin")) {
      throw this.refused(new BusError("FORBIDDEN", "revoking tokens needs the admin role"), "http");
    }
    const r = (request ?? {}) as Record<string, unknown>;
    const jti = r.jti;
    const subject = r.subject;
    const ok = (v: unknown) => typeof v === "string" && v.length > 0 && v.length <= 512;
    if ((jti === undefined) === (subject === undefined) || !ok(jti ?? subject)) {
      throw new BusError(
        "INVALID_ARGUMENT",
        "name one of jti or subject (a non-empty string of at most 512 characters)",
      );
    }
    // Tokens live at most as long as the longest a node issues by default: keep a day,
    // or what the request says (e.g. for tokens issued with a longer life).
    const keepSeconds = r.keepSeconds === undefined ? 86_400 : Number(r.keepSeconds);
    if (!(keepSeconds > 0) || keepSeconds > 366 * 86_400) {
      throw new BusError("INVALID_ARGUMENT", "keepSeconds must be from 1 to 31622400");
    }
    const now = Date.now();
    const revocation: Revocation = {
      ...(jti !== undefined ? { tokenId: jti as string } : { subject: subject as string }),
      atMs: now,
      untilMs: now + keepSeconds * 1000,
    };
    await this.#replicator?.revoke(revocation);
    this.#auth.revocations.add(revocation);
    this.audit("token.revoke", principal.subject, {
      ...(jti !== undefined ? { jti } : { subject }),
      until: new Date(revocation.untilMs).toISOString(),
      ...(caller.remote ? { remote: caller.remote } : {}),
    });
    return revocation;
  }

  /** Where bans and revocations made here are shared (a cluster node); undefined: nowhere. */
  setReplicator(replicator: GovernanceReplicator | undefined): void {
    this.#replicator = replicator;
  }

  /** Applies a ban made on another node (audited there). */
  applyBan(key: string, untilMs: number): void {
    if (untilMs > Date.now()) this.#bans.ban(key, untilMs);
  }

  /** Applies a revocation made on another node (audited there); null `r` lifts `key`'s. */
  applyRevocation(key: string, r: Revocation | null): void {
    if (r === null) this.#auth.revocations.remove(key);
    else this.#auth.revocations.add(r);
  }

  /**
   * Security state of one new connection (`transport` labels its metrics; `remote`, the
   * client address, goes into its audit entries and keys its bans).
   */
  session(transport: string, kick?: (reason: string) => void, remote?: string): SessionAccess {
    return new SessionAccess(this, transport, kick, remote);
  }

  /**
   * Authenticates one HTTP request from its `Authorization` header and returns its
   * access (already authenticated). `client` is the request's real client (behind TLS:
   * the terminator's peer): its address goes into audit entries and, on an open node,
   * keys the per-client rate limits. Throws UNAUTHORIZED.
   */
  async http(
    authorization: string | null | undefined,
    client?: PeerAddress,
  ): Promise<SessionAccess> {
    const access = new SessionAccess(
      this,
      "http",
      undefined,
      client ? formatAddress(client) : undefined,
      client?.hostname,
    );
    try {
      access.bind(await this.#auth.fromAuthorization(authorization));
    } catch (e) {
      throw this.refused(e, "http");
    }
    return access;
  }

  /**
   * Authenticates an HTTP request that needs one of `roles` (e.g. reading `/metrics`).
   * Throws UNAUTHORIZED without valid credentials, FORBIDDEN without the role.
   */
  async requireRole(
    authorization: string | null | undefined,
    roles: readonly Role[],
    what: string,
    client?: PeerAddress,
  ): Promise<SessionAccess> {
    const access = await this.http(authorization, client);
    const held = access.principal?.roles ?? [];
    if (!roles.some((r) => held.includes(r))) {
      throw this.refused(forbidden(`${what} needs the ${roles.join(" or ")} role`), "http");
    }
    return access;
  }

  /**
   * Where governance events go: `sys.control.*` publishes and kicks (the node's
   * hash-chained audit log, `runtime/telemetry/audit`).
   */
  setAudit(audit: AuditSink | undefined): void {
    this.#audit = audit;
  }

  /** @internal Appends to the audit log, when there is one. */
  audit(action: string, actor: string, details: Record<string, unknown>): void {
    this.#audit?.append(action, actor, details);
  }

  /**
   * @internal Audits an abuse event (a kick, a ban): at most one entry a second per action
   * and client, the others counted into the next (`suppressed`). A client kicked again and
   * again must not make the node append (and, with a data directory, fsync) on every kick.
   */
  auditAbuse(action: string, details: Record<string, unknown>): void {
    const host = details.remote ? hostOf(String(details.remote)) : "";
    const key = `${action}|${details.subject ?? details.client ?? ""}|${host}`;
    const now = Date.now();
    const seen = this.#abuse.get(key);
    if (seen && now - seen.atMs < 1000) {
      seen.suppressed++;
      return;
    }
    if (this.#abuse.size > 10_000) this.#abuse = new Map();
    this.#abuse.set(key, { atMs: now, suppressed: 0 });
    const suppressed = seen?.suppressed ?? 0;
    this.audit(action, "node", suppressed > 0 ? { ...details, suppressed } : details);
  }

  /** Counts a refused TLS handshake (e.g. a TLS 1.2 client at the TLS 1.3-only listener). */
  tlsHandshakeFailed(): void {
    this.#metrics.tlsRefused.inc();
  }

  /** Where kicks and bans are logged (the node's structured log). */
  setLogger(logger: Logger | undefined): void {
    this.#logger = logger;
  }

  #logger: Logger | undefined;

  /** @internal Counts a kick. */
  kicked(transport: string, reason: string): void {
    this.#metrics.kicks.labels(transport, reason).inc();
    this.#logger?.warn("kick", { transport, reason });
  }

  /** @internal Keeps the client `key` out for `--ban-seconds` after a kick; audited. */
  ban(key: string | undefined, transport: string, reason: string, where: object): void {
    this.#logger?.warn("ban", { client: key, transport, reason });
    const seconds = this.options.banSeconds;
    if (key === undefined || seconds <= 0) return;
    const until = Date.now() + seconds * 1000;
    this.#bans.ban(key, until);
    this.#replicator?.ban(key, until);
    this.#metrics.bans.labels(transport).inc();
    this.auditAbuse("connection.ban", {
      client: key,
      until: new Date(until).toISOString(),
      reason,
      transport,
      ...where,
    });
  }

  /** @internal The refusal for a banned client `key`, or undefined. */
  banRefusal(key: string | undefined): BusError | undefined {
    const ms = this.#bans.remainingMs(key);
    if (ms === 0) return undefined;
    return new BusError(
      "FORBIDDEN",
      `banned for ${Math.ceil(ms / 1000)} s more: the node closed this client for abuse`,
    );
  }

  /** Adjusts a reality's stored-bytes usage to what the log holds after retention. */
  setStoredBytes(realityId: string, bytes: number): void {
    this.#quotas.setStoredBytes(realityId, bytes);
    this.#metrics.quotaUsage.labels(realityId, "storedBytes").set(bytes);
  }

  /** @internal */
  get authenticator(): Authenticator {
    return this.#auth;
  }
  /** @internal */
  get limitsOn(): boolean {
    return this.#limitsOn;
  }
  /** @internal */
  get rates(): RateLimiter {
    return this.#rates;
  }
  /**
   * @internal The rate limiter an HTTP client shares across its requests (`client` is its
   * identity); a fresh one when only per-reality limits are on (nothing to remember).
   */
  clientRates(client: string): ConnectionRateLimiter {
    return this.#clients?.limiter(client) ?? this.#rates.forConnection();
  }
  /** @internal */
  acquire(realityId: string, kind: QuotaKind, amount = 1): Release {
    const r = this.#quotas.acquire(realityId, kind, amount);
    if (isQuotaRefusal(r)) throw new BusError("QUOTA_EXCEEDED", r.message);
    const gauge = this.#metrics.quotaUsage.labels(realityId, kind);
    gauge.set(this.#quotas.usage(realityId, kind));
    return () => {
      r();
      gauge.set(this.#quotas.usage(realityId, kind));
    };
  }
  /** @internal */
  authenticated(transport: string, method: string): void {
    this.#metrics.authenticated.labels(transport, method).inc();
  }
  /** @internal Counts an auth refusal and returns it as a BusError. */
  refused(e: unknown, transport: string): unknown {
    if (e instanceof BusError) this.#metrics.authRefusals.labels(transport, e.code).inc();
    return e;
  }
}

function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

function decodeBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}
