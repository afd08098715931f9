/**
 * What a session's security state (`SessionAccess`) needs from the node-wide one: counters,
 * bans, quotas, rate limiters and the audit log. `NodeAccess` implements it; naming the
 * interface instead of the class keeps `session_access.ts` from importing `node_access.ts`,
 * which creates sessions (no import cycle).
 * @module
 */
import type { BusError } from "../../protocol/mod.ts";
import type { ConnectionRateLimiter, QuotaKind, RateLimiter, Release } from "../limits/mod.ts";
import type { Authenticator } from "./authenticator.ts";
import type { SecurityOptions } from "./security_options.ts";

/** The node-wide security state, as one session uses it. */
export interface AccessHost {
  /** Authentication is configured: every session must prove who it is. */
  readonly required: boolean;
  /** Some rate limit or quota is on. */
  readonly limitsOn: boolean;
  /** The options a session reads. */
  readonly options: Readonly<Pick<SecurityOptions, "rateKick" | "realityMaxStoredBytes">>;
  /** Verifies hello credentials. */
  readonly authenticator: Pick<Authenticator, "fromHello">;
  /** The node's rate limiter, which hands out one limiter per connection. */
  readonly rates: Pick<RateLimiter, "forConnection">;
  /** The limiter an HTTP client shares across its requests. */
  clientRates(client: string): ConnectionRateLimiter;
  /** Takes `amount` of a reality's quota; throws `QUOTA_EXCEEDED`. */
  acquire(realityId: string, kind: QuotaKind, amount?: number): Release;
  /** The refusal for a banned client `key`, or undefined. */
  banRefusal(key: string | undefined): BusError | undefined;
  /** Keeps the client `key` out for `--ban-seconds` after a kick; audited. */
  ban(key: string | undefined, transport: string, reason: string, where: object): void;
  /** Counts an auth refusal and returns the error. */
  refused(e: unknown, transport: string): unknown;
  /** Counts a successful authentication. */
  authenticated(transport: string, method: string): void;
  /** Counts a kick. */
  kicked(transport: string, reason: string): void;
  /** Appends to the audit log, when there is one. */
  audit(action: string, actor: string, details: Record<string, unknown>): void;
  /** Audits an abuse event, rate-limited per action and client. */
  auditAbuse(action: string, details: Record<string, unknown>): void;
}
