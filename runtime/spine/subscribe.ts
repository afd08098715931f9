/**
 * Opening a subscription: its input checked, its bounds capped at the node's, and its
 * drops counted per reality and lane.
 * @module
 */
import { BusError, patternError, realityError } from "../protocol/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import { LANE_NAMES } from "./lanes.ts";
import type { QueueDefaults, SubscribeInput } from "./spine_options.ts";
import { Subscription, type SubscriptionOwner, type SubscriptionSpec } from "./subscription.ts";

/** Throws `BusError` when the pattern or queue group of `input` is invalid. */
export function checkSubscribeInput(input: SubscribeInput): void {
  const err = patternError(input.pattern);
  if (err) throw new BusError("INVALID_PATTERN", err);
  if (input.queueGroup && realityError(input.queueGroup)) {
    throw new BusError(
      "INVALID_ARGUMENT",
      "queue group must match [a-z0-9_-]+, at most 64 bytes",
    );
  }
}

/** A subscription in `realityId` for `owner`, not yet registered anywhere. */
export function newSubscription(
  owner: SubscriptionOwner,
  input: SubscribeInput,
  realityId: string,
  queue: QueueDefaults,
  metrics: NodeMetrics,
): Subscription {
  const spec: SubscriptionSpec = {
    id: input.id,
    realityId,
    pattern: input.pattern,
    queueGroup: input.queueGroup ?? "",
    overflow: input.overflow ?? queue.overflow,
    maxMessages: capped(input.maxMessages, queue.maxMessages),
    maxBytes: capped(input.maxBytes, queue.maxBytes),
    maxInFlight: input.maxInFlight ?? 0,
    spectralFilter: input.spectralFilter,
  };
  const dropCounters = {
    drop_oldest: metrics.dropped.labels(realityId, "drop_oldest"),
    drop_new: metrics.dropped.labels(realityId, "drop_new"),
  };
  const laneDropped = metrics.laneDropped;
  return new Subscription(spec, owner, (reason, n, lane) => {
    dropCounters[reason].inc(n);
    laneDropped.labels(realityId, LANE_NAMES[lane || 1], reason).inc(n);
  });
}

/** A client-chosen bound: unset (0) takes the node's, and none may exceed it. */
function capped(asked: number | undefined, node: number): number {
  return asked && asked > 0 ? Math.min(asked, node) : node;
}
