/**
 * Security state of one connection or HTTP request: its principal, its permission
 * checks, its rate limits and the quotas it holds; kicks it when it abuses them.
 * @module
 */
import { BusError, type IHello } from "../../protocol/mod.ts";
import type { ConnectionRateLimiter, RateRefusal, Release } from "../limits/mod.ts";
import type { AccessHost } from "./access_host.ts";
import { type HelloCredentials, MAX_HELLO_BYTES } from "./authenticator.ts";
import { hostOf } from "../tls/mod.ts";
import { banKey } from "./ban_list.ts";
import type { Challenge } from "./did_challenge.ts";
import { RateLimitedError } from "./errors.ts";
import type { Principal } from "./grants.ts";
import { PermissionChecker } from "./permission_checker.ts";

/** Hellos (answers and challenges) one connection may send before it is closed. */
const MAX_AUTH_ATTEMPTS = 5;

/** Longest delay a timer takes (about 24.8 days); later expiries are checked per frame only. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Unacknowledged pulses refused by a rate limit are reported at most this often. */
const RATE_NOTICE_INTERVAL_MS = 1000;

/** What a subscription was admitted with. */
export interface SubscriptionAccess {
  /** Deliveries must pass `SessionAccess.canReceive(topic)` (pattern overlaps a deny). */
  readonly filterDeliveries: boolean;
  /** Releases the subscription's quota; call on unsubscribe and on close. */
  readonly release: Release;
}

/** Security state of one connection or HTTP request. */
export class SessionAccess {
  readonly #node: AccessHost;
  readonly #transport: string;
  readonly #remote?: string;
  readonly #clientHost?: string;
  #principal?: Principal;
  #checker?: PermissionChecker;
  #rates?: ConnectionRateLimiter;
  /** Realities this connection counts against, with the quota to release. */
  // Created on first use: an idle connection holds none (memory per connection).
  #realitiesMap: Map<string, Release> | undefined;
  get #realities(): Map<string, Release> {
    return this.#realitiesMap ??= new Map();
  }
  #closed = false;
  #lastNoticeMs = -Infinity;
  #quietlyDropped = 0;
  readonly #kick?: (reason: string) => void;
  #kicked = false;
  #banChecked = false;
  #banned: BusError | undefined;
  #windowStartMs = 0;
  #windowRefusals = 0;
  #expiry?: ReturnType<typeof setTimeout>;
  #attempts = 0;

  /**
   * @internal Use `NodeAccess.session` or `NodeAccess.http`. `remote` is the client's
   * address for audit entries; `clientHost` its host, which keys an anonymous HTTP
   * client's rate limits.
   */
  constructor(
    node: AccessHost,
    transport: string,
    kick?: (reason: string) => void,
    remote?: string,
    clientHost?: string,
  ) {
    this.#node = node;
    this.#transport = transport;
    this.#kick = kick;
    this.#remote = remote;
    this.#clientHost = clientHost;
    // HTTP requests share their client's limiter, looked up once the principal is known.
    if (node.limitsOn && transport !== "http") this.#rates = node.rates.forConnection();
  }

  /** The client's address (`host:port`), when the carrier knows it. */
  get remote(): string | undefined {
    return this.#remote;
  }

  /**
   * Who an HTTP client is for its rate limits: the token subject or DID when it
   * authenticated, else its address (host only: a client opens connections at will).
   */
  get clientId(): string {
    const p = this.#principal;
    if (p && p.method !== "open") return `id:${p.subject}`;
    return `ip:${this.#clientHost ?? this.#remote ?? "?"}`;
  }

  /** The authenticated principal, once there is one. */
  get principal(): Principal | undefined {
    return this.#principal;
  }

  /** The key this client is banned under after a kick (see `ban_list.ts`). */
  #banKey(): string | undefined {
    const p = this.#principal;
    return banKey(p && p.method !== "open" ? p.subject : undefined, this.#host());
  }

  #host(): string | undefined {
    return this.#clientHost ?? (this.#remote ? hostOf(this.#remote) : undefined);
  }

  /** Throws FORBIDDEN when this client's address is banned; checked once per session. */
  #checkAddressBan(): void {
    if (this.#banChecked) return;
    this.#banChecked = true;
    const refusal = this.#node.banRefusal(banKey(undefined, this.#host()));
    if (refusal) this.#banned = refusal;
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
      this.#checkAddressBan();
      if (this.#banned) throw this.#banned;
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
        this.#recordKick("auth", "too many failed authentications");
        // A moment later, so the refusal itself still reaches the client.
        setTimeout(() => this.#kick?.("too many failed authentications"), 20);
      }
      throw this.#node.refused(e, this.#transport);
    }
  }

  /** @internal Binds an authenticated principal to this session. */
  bind(principal: Principal): void {
    if (principal.method !== "open") {
      const refusal = this.#node.banRefusal(banKey(principal.subject, undefined));
      if (refusal) throw refusal;
    }
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
    if (!this.#banChecked) this.#checkAddressBan();
    if (this.#banned) throw this.#node.refused(this.#banned, this.#transport);
    if (!this.admitted) {
      throw this.#node.refused(
        new BusError("UNAUTHORIZED", "authenticate first: send a hello with a token or a did"),
        this.#transport,
      );
    }
  }

  /**
   * Throws FORBIDDEN unless the principal may send pulses in `lane` (`critical` needs the
   * `lanes: ["critical"]` grant or the admin role; other lanes need nothing). A node
   * without authentication allows every lane.
   */
  admitLane(lane: string): void {
    this.requireAdmitted();
    const p = this.#principal;
    if (lane !== "critical" || !p || !this.#node.required) return;
    if (p.roles.includes("admin") || p.lanes?.includes(lane)) return;
    throw this.#node.refused(
      new BusError("FORBIDDEN", `sending on the ${lane} lane needs the "${lane}" lane grant`),
      this.#transport,
    );
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
        ...this.#where(),
      });
    }
    let rates = this.#rates;
    if (rates === undefined) {
      if (this.#transport !== "http" || !this.#node.limitsOn) return true;
      rates = this.#rates = this.#node.clientRates(this.clientId);
    }
    if (this.#kicked) return false;
    this.#enter(realityId);
    const refusal: RateRefusal | undefined = rates.admit(realityId, bytes);
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
        throw new RateLimitedError(
          `${refusal.message}${dropped ? ` (${dropped} more unacknowledged pulses dropped)` : ""}`,
          refusal.retryAfterMs,
        );
      }
      // Over HTTP the per-connection buckets are the client's, whatever its connections.
      const message = this.#transport === "http" && refusal.scope === "connection"
        ? refusal.message.replace(/^connection/, "client")
        : refusal.message;
      throw new RateLimitedError(message, refusal.retryAfterMs);
    }
    if (this.#node.options.realityMaxStoredBytes > 0) {
      this.#node.acquire(realityId, "storedBytes", bytes);
    }
    return true;
  }

  /**
   * Checks that this session may create `realityId`, which does not exist yet, by
   * publishing to it (see `PermissionChecker.canCreateReality`); throws FORBIDDEN. A node
   * without authentication lets everyone create realities, up to `--max-realities`.
   */
  admitNewReality(realityId: string): void {
    const checker = this.#checker;
    if (!checker || checker.canCreateReality(realityId)) return;
    throw this.#node.refused(
      new BusError(
        "FORBIDDEN",
        `reality "${realityId || "default"}" does not exist; ${checker.principal.subject} ` +
          "may not create it (creating realities needs the admin role or a grant naming it)",
      ),
      this.#transport,
    );
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

  /** Counts and audits the node closing this connection for flooding past its fair share. */
  kickedForFlood(reason: string): void {
    this.#recordKick("flood", reason);
  }

  /**
   * What every kick does besides closing: nothing more passes, the kick is counted, the
   * client is banned (`--ban-seconds`) and the kick audited (throttled per client).
   */
  #recordKick(kind: string, reason: string, details: Record<string, unknown> = {}): void {
    this.#kicked = true;
    this.#node.kicked(this.#transport, kind);
    this.#node.ban(this.#banKey(), this.#transport, reason, this.#where());
    this.#node.auditAbuse("connection.kick", {
      subject: this.#principal?.subject ?? "anonymous",
      transport: this.#transport,
      reason,
      ...details,
      ...this.#where(),
    });
  }

  /** Releases the connection's quotas. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#expiry);
    for (const release of this.#realitiesMap?.values() ?? []) release();
    this.#realitiesMap?.clear();
  }

  /** Counts a refusal; closes the connection when refusals per second pass `--rate-kick`. */
  #overLimitTooLong(now: number, refusal: RateRefusal): boolean {
    if (now - this.#windowStartMs >= 1000) {
      this.#windowStartMs = now;
      this.#windowRefusals = 0;
    }
    const limit = this.#node.options.rateKick;
    if (++this.#windowRefusals < limit || limit <= 0 || !this.#kick) return false;
    // Short: it becomes the WebSocket close reason (at most 123 bytes).
    const reason = `rate limit exceeded: ${this.#windowRefusals} refusals in 1 s`;
    this.#recordKick("rate", reason, { limit: refusal.message });
    this.#kick(reason);
    return true;
  }

  /** The client address for an audit entry, when known. */
  #where(): { remote?: string } {
    return this.#remote ? { remote: this.#remote } : {};
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
