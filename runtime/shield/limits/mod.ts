/**
 * Rate limits and bulkheads of the Shield: token buckets per connection and per reality,
 * quotas per reality, and the fair scheduler that keeps one reality from starving others.
 * Refusals are plain values (`code` + `message`), not exceptions: they are expected under
 * load and cheap to return on the hot path.
 * @module
 */
export {
  ConnectionRateLimiter,
  type RateLimit,
  type RateLimitConfig,
  RateLimiter,
  type RateRefusal,
  type RateRefusalListener,
} from "./rate_limiter.ts";
export {
  isQuotaRefusal,
  type QuotaConfig,
  type QuotaKind,
  type QuotaRefusal,
  type QuotaRefusalListener,
  type RealityQuota,
  RealityQuotas,
  type Release,
} from "./quotas.ts";
export {
  FairScheduler,
  type FairSchedulerOptions,
  type LaneLoad,
  PRIORITY_NORMAL,
  PRIORITY_URGENT,
  PRIORITY_YIELDING,
  type QueueRefusal,
} from "./fair_scheduler.ts";
export { IoTurn } from "./io_turn.ts";
export { type Clock, TokenBucket } from "./token_bucket.ts";
