/**
 * The shapes the dashboard reads from the node's public API (only the fields it shows).
 * @module
 */

/** `GET /v1/realities` entries. */
export interface RealityInfo {
  readonly name: string;
  readonly config: { readonly retention?: readonly unknown[] };
  readonly lastSequence: number;
  readonly storedPulses: number;
  readonly storedBytes: number;
}

/** `GET /v1/connections` subscription rows. */
export interface SubscriptionView {
  readonly id: number;
  readonly reality: string;
  readonly pattern: string;
  readonly queueGroup: string;
  readonly overflow: string;
  readonly queued: number;
  readonly queuedBytes: number;
  readonly maxMessages: number;
  readonly dropped: number;
  readonly credits: number | null;
}

/** `GET /v1/connections` rows. */
export interface ConnectionView {
  readonly id: string;
  readonly transport: string;
  readonly remote: string;
  readonly subject?: string;
  readonly openedAtMs?: number;
  readonly queued: number;
  readonly dropped: number;
  readonly subscriptions: readonly SubscriptionView[];
}

/** `GET /v1/connections`. */
export interface Connections {
  readonly connections: readonly ConnectionView[];
  readonly total: number;
  readonly truncated: boolean;
}

/** `GET /v1/policies` entries. */
export interface PolicyInfo {
  readonly name: string;
  readonly available: boolean;
  readonly problem?: string;
  readonly binding?: {
    readonly realities?: readonly string[];
    readonly topics?: readonly string[];
    readonly order?: number;
  };
}

/** `GET /v1/operators` entries. */
export interface OperatorInfo {
  readonly name: string;
  readonly status: string;
  readonly reality: string;
  readonly inputs: readonly string[];
  readonly instances: number;
  readonly builtin?: string;
  readonly counters: Readonly<Record<string, number>>;
  readonly handle_ms?: { readonly p50: number; readonly p99: number };
  readonly reason?: string;
}

/** `GET /v1/audit` entries. */
export interface AuditEntry {
  readonly seq: number;
  readonly time: string;
  readonly action: string;
  readonly actor: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** `GET /v1/audit/verify`. */
export interface AuditVerification {
  readonly ok: boolean;
  readonly entries: number;
  readonly firstBroken?: { readonly line: number; readonly seq?: number; readonly problem: string };
}

/** A pulse as SSE carries it (the canonical JSON mapping; JSON payloads as `data`). */
export interface PulseJson {
  readonly id?: string;
  readonly realityId?: string;
  readonly topic?: string;
  readonly sequence?: string | number;
  readonly producerId?: string;
  readonly timestampMs?: string | number;
  readonly [field: string]: unknown;
}
