/**
 * How a Spine is configured: its options, the queue bounds subscriptions get, and what a
 * caller gives to open a subscription.
 * @module
 */
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { PulseGuard, PulseLog } from "./ports.ts";
import type { AnycastLimits } from "./anycast.ts";
import type { AnycastInput } from "./anycast_route.ts";
import type { OverflowMode, SubscriptionSpec } from "./subscription.ts";

/** The reality used when a client names none. */
export const DEFAULT_REALITY = "default";

/**
 * Bounds of subscription queues: what a subscription that sets none gets, and the most a
 * client may ask for (a larger request is cut to these: the node's memory is the node's).
 */
export interface QueueDefaults {
  /** Default, and largest, maximum deliveries waiting per subscription. */
  readonly maxMessages: number;
  /** Default, and largest, maximum bytes waiting per subscription. */
  readonly maxBytes: number;
  /** Default overflow policy. */
  readonly overflow: OverflowMode;
}

/** How the Spine is configured. */
export interface SpineOptions {
  /** The node's metrics (published, dropped, subscriptions, limit hits). */
  readonly metrics: NodeMetrics;
  /** Bounds of subscription queues. */
  readonly queue: QueueDefaults;
  /** The CASIL chain or any other guard; a throw or a deny refuses the pulse. */
  readonly guard?: PulseGuard;
  /** The durable log; without it the Spine is purely in-memory. */
  readonly log?: PulseLog;
  /**
   * Realities the Spine holds, in memory and in its log together; creating one more
   * throws QUOTA_EXCEEDED.
   * @default {Infinity}
   */
  readonly maxRealities?: number;
  /**
   * Members listed per reality in presence.
   * @default {10000}
   */
  readonly presenceMaxMembers?: number;
  /**
   * Bounds of semantic anycast (embeddings per subscription and per reality) and the size
   * past which search is approximate.
   * @default {{ maxPerSubscription: 16, maxPerReality: 100000, exactMax: 64 }}
   */
  readonly anycast?: Partial<AnycastLimits>;
  /**
   * Stamp a vector clock on every sequenced pulse (`--vclock`; docs/time.md).
   * @default {true}
   */
  readonly vclock?: boolean;
}

/** Parameters a caller gives to open a subscription; unset bounds take the defaults. */
export type SubscribeInput =
  & Pick<SubscriptionSpec, "id" | "pattern">
  & Partial<Omit<SubscriptionSpec, "id" | "pattern">>
  & { readonly anycast?: AnycastInput };
