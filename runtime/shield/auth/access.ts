/**
 * The Shield's security in one place, for the node to hold: who may connect (tokens,
 * DIDs, or open on loopback), what each session may do (permissions), how fast
 * (rate limits) and how much (quotas). The node creates one `NodeAccess`; each
 * connection or HTTP request gets a `SessionAccess`. Every refusal is a `BusError`
 * with a protocol code and counts in a metric.
 * @module
 */
import { Buffer } from "node:buffer";
import client from "prom-client";
import { BusError, type IHello } from "../../protocol/mod.ts";
import {
  isQuotaRefusal,
  type QuotaKind,
  RateLimiter,
  type RateRefusal,
  RealityQuotas,
  type Release,
} from "../limits/mod.ts";
import { Authenticator, type HelloCredentials, MAX_HELLO_BYTES } from "./authenticator.ts";
import type { Challenge } from "./did_challenge.ts";
import { DidDirectory } from "./did_directory.ts";
import { type Grants, parseGrants, type Principal } from "./grants.ts";
import { type NodeSigningKey, readNodeKeyFile, readVerificationKeys } from "./node_key.ts";
import { PermissionChecker } from "./permission_checker.ts";
import { issueToken, TokenVerifier } from "./token.ts";

/** Security options of a node; every one has a flag (see `SECURITY_FLAGS`). */
export interface SecurityOptions {
  /** Node key file or JWK Set whose keys verify bearer tokens; empty: no tokens. */
  authKey: string;
  /** JSON file mapping `did:key`s to grants; empty: no DID authentication. */
  authDids: string;
  /** PEM certificate chain; with `tlsKey`, the node listens TLS 1.3 only. */
  tlsCert: string;
  /** PEM private key of `tlsCert`. */
  tlsKey: string;
  /** Allow listening beyond loopback without TLS or auth (loudly). */
  insecure: boolean;
  /** Key ring file for encryption at rest (else `ARQON_STORE_KEYS`/`ARQON_STORE_KEY`). */
  keyFile: string;
  /** Pulses/s one connection may publish (0: unlimited). */
  ratePulses: number;
  /** Payload bytes/s one connection may publish (0: unlimited). */
  rateBytes: number;
  /** Pulses/s one reality accepts from all its publishers (0: unlimited). */
  realityRatePulses: number;
  /** Payload bytes/s one reality accepts (0: unlimited). */
  realityRateBytes: number;
  /** Connections one reality may have (0: unlimited). */
  realityMaxConnections: number;
  /** Subscriptions one reality may have (0: unlimited). */
  realityMaxSubscriptions: number;
  /** Payload bytes one reality may publish into the log (0: unlimited). */
  realityMaxStoredBytes: number;
  /** Rate-limit refusals within one second after which a connection is closed (0: never). */
  rateKick: number;
}

/** Longest life of a token exchanged for a DID answer over HTTP. */
const DID_TOKEN_MAX_SECONDS = 900;

/** Hellos (answers and challenges) one connection may send before it is closed. */
const MAX_AUTH_ATTEMPTS = 5;

/** Longest delay a timer takes (about 24.8 days); later expiries are checked per frame only. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Unacknowledged pulses refused by a rate limit are reported at most this often. */
const RATE_NOTICE_INTERVAL_MS = 1000;

/** The audit log as the Shield uses it (`AuditLog` of `runtime/telemetry/audit`). */
export interface AuditSink {
  append(action: string, actor: string, details: Record<string, unknown>): unknown;
}

/** Defaults: no auth, no TLS, no limits beyond the node's frame limits. */
export const SECURITY_DEFAULTS: Readonly<SecurityOptions> = {
  authKey: "",
  authDids: "",
  tlsCert: "",
  tlsKey: "",
  insecure: false,
  keyFile: "",
  ratePulses: 0,
  rateBytes: 0,
  realityRatePulses: 0,
  realityRateBytes: 0,
  realityMaxConnections: 0,
  realityMaxSubscriptions: 0,
  realityMaxStoredBytes: 0,
  rateKick: 10_000,
};

/** Flag descriptions in the shape of the node's flag table. */
export const SECURITY_FLAGS: {
  key: keyof SecurityOptions;
  flag: string;
  kind: "string" | "int" | "bool";
  help: string;
  env?: string;
}[] = [
  {
    key: "authKey",
    flag: "auth-key",
    kind: "string",
    env: "ARQON_AUTH_KEY",
    help: "node key or JWK Set verifying bearer tokens (deno task token keygen)",
  },
  {
    key: "authDids",
    flag: "auth-dids",
    kind: "string",
    env: "ARQON_AUTH_DIDS",
    help: "JSON file of did:key grants",
  },
  {
    key: "tlsCert",
    flag: "tls-cert",
    kind: "string",
    env: "ARQON_TLS_CERT",
    help: "PEM certificate: serve TLS 1.3 only",
  },
  {
    key: "tlsKey",
    flag: "tls-key",
    kind: "string",
    env: "ARQON_TLS_KEY",
    help: "PEM private key of --tls-cert",
  },
  {
    key: "insecure",
    flag: "insecure",
    kind: "bool",
    help: "allow a non-loopback listener without TLS/auth",
  },
  {
    key: "keyFile",
    flag: "key-file",
    kind: "string",
    env: "ARQON_KEY_FILE",
    help: "key ring for encryption at rest (deno task token store-key init)",
  },
  {
    key: "ratePulses",
    flag: "rate-pulses",
    kind: "int",
    help: "pulses/s per connection (0: unlimited)",
  },
  {
    key: "rateBytes",
    flag: "rate-bytes",
    kind: "int",
    help: "payload bytes/s per connection (0: unlimited)",
  },
  {
    key: "realityRatePulses",
    flag: "reality-rate-pulses",
    kind: "int",
    help: "pulses/s per reality (0: unlimited)",
  },
  {
    key: "realityRateBytes",
    flag: "reality-rate-bytes",
    kind: "int",
    help: "payload bytes/s per reality (0: unlimited)",
  },
  {
    key: "realityMaxConnections",
    flag: "reality-max-connections",
    kind: "int",
    help: "connections per reality (0: unlimited)",
  },
  {
    key: "realityMaxSubscriptions",
    flag: "reality-max-subscriptions",
    kind: "int",
    help: "subscriptions per reality (0: unlimited)",
  },
  {
    key: "realityMaxStoredBytes",
    flag: "reality-max-stored-bytes",
    kind: "int",
    help: "payload bytes a reality may publish to the log (0: unlimited)",
  },
  {
    key: "rateKick",
    flag: "rate-kick",
    kind: "int",
    help: "rate-limit refusals per second after which a connection is closed (0: never)",
  },
];

/** Metric families of the Shield's security. */
class SecurityMetrics {
  readonly authRefusals: client.Counter<"transport" | "code">;
  readonly authenticated: client.Counter<"transport" | "method">;
  readonly rateLimited: client.Counter<"reality" | "scope" | "unit">;
  readonly quotaExceeded: client.Counter<"reality" | "kind">;
  readonly quotaUsage: client.Gauge<"reality" | "kind">;
  readonly kicks: client.Counter<"transport" | "reason">;
  readonly tlsRefused: client.Counter;

  constructor(registry: client.Registry) {
    const registers = [registry];
    this.tlsRefused = new client.Counter({
      name: "arqon_tls_handshake_failures_total",
      help: "TLS handshakes refused (TLS below 1.3, bad client hello, timeout).",
      registers,
    });
    this.kicks = new client.Counter({
      name: "arqon_kicks_total",
      help: "Connections closed by the node for abuse (e.g. sustained rate-limit violation).",
      labelNames: ["transport", "reason"],
      registers,
    });
    this.authRefusals = new client.Counter({
      name: "arqon_auth_refusals_total",
      help: "Connections and requests refused by authentication or authorization.",
      labelNames: ["transport", "code"],
      registers,
    });
    this.authenticated = new client.Counter({
      name: "arqon_auth_sessions_total",
      help: "Sessions authenticated, by method (token, did, open).",
      labelNames: ["transport", "method"],
      registers,
    });
    this.rateLimited = new client.Counter({
      name: "arqon_rate_limited_total",
      help: "Pulses refused by a rate limit, by reality, scope and unit.",
      labelNames: ["reality", "scope", "unit"],
      registers,
    });
    this.quotaExceeded = new client.Counter({
      name: "arqon_quota_exceeded_total",
      help: "Acquisitions refused by a reality quota.",
      labelNames: ["reality", "kind"],
      registers,
    });
    this.quotaUsage = new client.Gauge({
      name: "arqon_quota_usage",
      help: "Current usage of reality quotas (connections, subscriptions, storedBytes).",
      labelNames: ["reality", "kind"],
      registers,
    });
  }
}

/** The node-wide security state. */
export class NodeAccess {
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
  #audit?: AuditSink;

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
  async didToken(request: unknown): Promise<string> {
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
    });
    return token;
  }

  /** Security state of one new connection (`transport` labels its metrics). */
  session(transport: string, kick?: (reason: string) => void): SessionAccess {
    return new SessionAccess(this, transport, kick);
  }

  /**
   * Authenticates one HTTP request from its `Authorization` header and returns its
   * access (already authenticated). Throws UNAUTHORIZED.
   */
  async http(authorization: string | null | undefined): Promise<SessionAccess> {
    const access = this.session("http");
    try {
      access.bind(await this.#auth.fromAuthorization(authorization));
    } catch (e) {
      throw this.refused(e, "http");
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

  /** Counts a refused TLS handshake (e.g. a TLS 1.2 client at the TLS 1.3-only listener). */
  tlsHandshakeFailed(): void {
    this.#metrics.tlsRefused.inc();
  }

  /** @internal Counts a kick. */
  kicked(transport: string, reason: string): void {
    this.#metrics.kicks.labels(transport, reason).inc();
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

/** What a subscription was admitted with. */
export interface SubscriptionAccess {
  /** Deliveries must pass `SessionAccess.canReceive(topic)` (pattern overlaps a deny). */
  readonly filterDeliveries: boolean;
  /** Releases the subscription's quota; call on unsubscribe and on close. */
  readonly release: Release;
}

/** Security state of one connection or HTTP request. */
export class SessionAccess {
  readonly #node: NodeAccess;
  readonly #transport: string;
  #principal?: Principal;
  #checker?: PermissionChecker;
  #rates?: ReturnType<RateLimiter["forConnection"]>;
  /** Realities this connection counts against, with the quota to release. */
  readonly #realities = new Map<string, Release>();
  #closed = false;
  #lastNoticeMs = -Infinity;
  #quietlyDropped = 0;
  readonly #kick?: (reason: string) => void;
  #kicked = false;
  #windowStartMs = 0;
  #windowRefusals = 0;
  #expiry?: ReturnType<typeof setTimeout>;
  #attempts = 0;

  /** @internal Use `NodeAccess.session`. */
  constructor(node: NodeAccess, transport: string, kick?: (reason: string) => void) {
    this.#node = node;
    this.#transport = transport;
    this.#kick = kick;
    if (node.limitsOn) this.#rates = node.rates.forConnection();
  }

  /** The authenticated principal, once there is one. */
  get principal(): Principal | undefined {
    return this.#principal;
  }

  /** True once frames other than hello may flow. */
  get admitted(): boolean {
    return this.#principal !== undefined || !this.#node.required;
  }

  /**
   * Handles a hello: binds the principal, or returns a challenge the client must answer
   * with a second hello. An oversized hello is refused before any verification.
   */
  async hello(hello: IHello): Promise<Challenge | undefined> {
    try {
      const frameBytes = helloBytes(hello);
      if (frameBytes > MAX_HELLO_BYTES) {
        throw new BusError(
          "UNAUTHORIZED",
          `hello of ${frameBytes} bytes exceeds the limit of ${MAX_HELLO_BYTES}`,
        );
      }
      if (this.#principal && this.#node.required) {
        throw new BusError("PROTOCOL_VIOLATION", "the session is already authenticated");
      }
      // Each connection gets a few tries (and challenges): enough for a client with a
      // stale token to recover, too few to guess or to flood the challenge table.
      if (++this.#attempts > MAX_AUTH_ATTEMPTS) {
        throw new BusError("UNAUTHORIZED", "too many authentication attempts on this connection");
      }
      const outcome = await this.#node.authenticator.fromHello(hello as HelloCredentials);
      if (outcome.challenge) return outcome.challenge;
      this.bind(outcome.principal);
      return undefined;
    } catch (e) {
      if (this.#attempts >= MAX_AUTH_ATTEMPTS && this.#kick && !this.#principal) {
        this.#node.kicked(this.#transport, "auth");
        this.#node.audit("connection.kick", "node", {
          subject: "anonymous",
          transport: this.#transport,
          reason: "too many failed authentications",
        });
        // A moment later, so the refusal itself still reaches the client.
        setTimeout(() => this.#kick?.("too many failed authentications"), 20);
      }
      throw this.#node.refused(e, this.#transport);
    }
  }

  /** @internal Binds an authenticated principal to this session. */
  bind(principal: Principal): void {
    this.#principal = principal;
    this.#checker = new PermissionChecker(principal);
    this.#node.authenticated(this.#transport, principal.method);
    // A long-lived connection ends with its credentials, subscriptions included.
    const left = principal.expiresAtMs === undefined
      ? Infinity
      : principal.expiresAtMs - Date.now();
    if (this.#kick && left < MAX_TIMER_MS) {
      const timer = setTimeout(() => {
        this.#node.kicked(this.#transport, "expired");
        this.#kick?.("credentials expired");
      }, Math.max(left, 0));
      Deno.unrefTimer(timer as unknown as number);
      this.#expiry = timer;
    }
  }

  /** The producer id stamped on this session's pulses. */
  producerId(fallback: string): string {
    return this.#principal && this.#principal.method !== "open"
      ? this.#principal.subject
      : fallback;
  }

  /** Throws UNAUTHORIZED until the session is admitted. */
  requireAdmitted(): void {
    if (!this.admitted) {
      throw this.#node.refused(
        new BusError("UNAUTHORIZED", "authenticate first: send a hello with a token or a did"),
        this.#transport,
      );
    }
  }

  /**
   * Checks one publish of `bytes` payload bytes to a topic of a reality: permissions,
   * rate limits and the stored-bytes quota. Throws FORBIDDEN, UNAUTHORIZED,
   * RATE_LIMITED or QUOTA_EXCEEDED. For an unacknowledged publish (`acked` false) over
   * its rate it returns false instead of throwing, except for one RATE_LIMITED notice
   * per second: a flood must not make the node answer each pulse it refuses.
   */
  admitPublish(realityId: string, topic: string, bytes: number, acked = true): boolean {
    this.requireAdmitted();
    const checker = this.#checker;
    if (checker) {
      try {
        checker.authorizePublish(realityId, topic);
      } catch (e) {
        throw this.#node.refused(e, this.#transport);
      }
    }
    if (topic.startsWith("sys.control.")) {
      this.#node.audit("control.publish", this.#principal?.subject ?? "anonymous", {
        reality: realityId || "default",
        topic,
        transport: this.#transport,
      });
    }
    if (!this.#rates) return true;
    if (this.#kicked) return false;
    this.#enter(realityId);
    const refusal: RateRefusal | undefined = this.#rates.admit(realityId, bytes);
    if (refusal) {
      const now = performance.now();
      if (this.#overLimitTooLong(now, refusal)) return false;
      if (!acked) {
        if (now - this.#lastNoticeMs < RATE_NOTICE_INTERVAL_MS) {
          this.#quietlyDropped++;
          return false;
        }
        this.#lastNoticeMs = now;
        const dropped = this.#quietlyDropped;
        this.#quietlyDropped = 0;
        throw new BusError(
          "RATE_LIMITED",
          `${refusal.message}${dropped ? ` (${dropped} more unacknowledged pulses dropped)` : ""}`,
        );
      }
      throw new BusError("RATE_LIMITED", refusal.message);
    }
    if (this.#node.options.realityMaxStoredBytes > 0) {
      this.#node.acquire(realityId, "storedBytes", bytes);
    }
    return true;
  }

  /** Checks one subscription: permissions and the subscriptions quota. */
  admitSubscribe(realityId: string, pattern: string): SubscriptionAccess {
    this.requireAdmitted();
    let filterDeliveries = false;
    if (this.#checker) {
      try {
        filterDeliveries = this.#checker.authorizeSubscribe(realityId, pattern).filterDeliveries;
      } catch (e) {
        throw this.#node.refused(e, this.#transport);
      }
    }
    if (!this.#node.limitsOn) return { filterDeliveries, release: () => {} };
    this.#enter(realityId);
    return { filterDeliveries, release: this.#node.acquire(realityId, "subscriptions") };
  }

  /**
   * Checks a read of stored pulses (history) of `pattern` in a reality: the reality must
   * be granted and the pattern subscribable. With `topics` false only the reality is
   * checked (reading its configuration). No quota is taken.
   */
  admitRead(realityId: string, pattern: string, topics = true): { filterDeliveries: boolean } {
    this.requireAdmitted();
    const checker = this.#checker;
    if (!checker) return { filterDeliveries: false };
    try {
      if (!topics) {
        if (!checker.canUseReality(realityId)) {
          throw new BusError(
            "FORBIDDEN",
            `${checker.principal.subject} may not use reality "${realityId}"`,
          );
        }
        return { filterDeliveries: false };
      }
      return checker.authorizeSubscribe(realityId, pattern);
    } catch (e) {
      throw this.#node.refused(e, this.#transport);
    }
  }

  /** For filtered subscriptions: whether a delivery on `topic` may reach this session. */
  canReceive(topic: string): boolean {
    return this.#checker ? this.#checker.canReceive(topic) : true;
  }

  /** Releases the connection's quotas. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#expiry);
    for (const release of this.#realities.values()) release();
    this.#realities.clear();
  }

  /** Counts a refusal; closes the connection when refusals per second pass `--rate-kick`. */
  #overLimitTooLong(now: number, refusal: RateRefusal): boolean {
    if (now - this.#windowStartMs >= 1000) {
      this.#windowStartMs = now;
      this.#windowRefusals = 0;
    }
    const limit = this.#node.options.rateKick;
    if (++this.#windowRefusals < limit || limit <= 0 || !this.#kick) return false;
    this.#kicked = true;
    // Short: it becomes the WebSocket close reason (at most 123 bytes).
    const reason = `rate limit exceeded: ${this.#windowRefusals} refusals in 1 s`;
    this.#node.kicked(this.#transport, "rate");
    this.#node.audit("connection.kick", "node", {
      subject: this.#principal?.subject ?? "anonymous",
      transport: this.#transport,
      reason,
      limit: refusal.message,
    });
    this.#kick(reason);
    return true;
  }

  /** Counts this connection against a reality's connection quota on first use. */
  #enter(realityId: string): void {
    if (this.#realities.has(realityId) || this.#transport === "http") return;
    this.#realities.set(realityId, this.#node.acquire(realityId, "connections"));
  }
}

/** Bytes of a hello's variable fields: what an attacker could inflate. */
function helloBytes(hello: IHello): number {
  let n = (hello.clientName?.length ?? 0) + (hello.token?.length ?? 0) +
    (hello.did?.length ?? 0) + (hello.nonce?.length ?? 0) + (hello.signature?.length ?? 0);
  for (const c of hello.capabilities ?? []) n += c.length;
  return n;
}

function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

function decodeBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}
