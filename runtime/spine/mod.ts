/**
 * The Spine: realities with monotonic sequences, topic validation, the subscription
 * trie, routing with queue groups, bounded subscriber queues, and request/reply.
 * @module
 */
export type {
  DurableLog,
  FabricSubscription,
  GuardVerdict,
  OperatorStateStore,
  PulseFabric,
  PulseGuard,
  PulseLog,
} from "./ports.ts";
export type {
  CommitObserver,
  HistogramView,
  HistoryQuery,
  RealityConfig,
  RealityConfigInput,
  RealityInfo,
  RealityStats,
  RetentionRule,
  StoredPulse,
  StoreStats,
} from "./log_records.ts";
export { Reality, type Route } from "./reality.ts";
export {
  CONTROL_MAX_DEPTH,
  CONTROL_PARAM_NAME,
  CONTROL_SET_TOPIC,
  type ControlAuditSink,
  type ControlListener,
  controlPairs,
  ControlParams,
  type ControlParamsOptions,
  type ControlParamStore,
  type ParamSet,
  type StoredParamSet,
} from "./control_params.ts";
export { DEFAULT_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS, requestReply } from "./request.ts";
export {
  ERROR_HEADER,
  isFinalReply,
  REPLY_FINAL,
  REPLY_HEADER,
  REPLY_MORE,
  replyError,
} from "./reply_marks.ts";
export { requestStream, type StreamRequestOptions } from "./request_stream.ts";
export { INBOX_SEGMENT, isInboxTopic, newInboxTopic, PendingInboxes } from "./inbox.ts";
export {
  DEFAULT_REALITY,
  type QueueDefaults,
  type SpineOptions,
  type SubscribeInput,
} from "./spine_options.ts";
export { Spine } from "./spine.ts";
export { StampedPulse } from "./stamped.ts";
export { markReplayed } from "./entropy.ts";
export {
  checkLane,
  LANE_BULK,
  LANE_CRITICAL,
  LANE_NAMES,
  LANE_NORMAL,
  LANE_RANK,
  LANE_UNSPECIFIED,
  type LaneName,
  laneNumber,
  type LaneRule,
  LaneRules,
  MAX_LANE_RULES,
} from "./lanes.ts";
export {
  type AnycastChoice,
  type AnycastLimits,
  AnycastRegistry,
  firstAsk,
  type RouteLike,
} from "./anycast.ts";
export {
  type AnycastInput,
  type AnycastQuery,
  type AnycastTarget,
  SpineAnycast,
} from "./anycast_route.ts";
export { type IndexHit, IndexHits, VectorIndex, type VectorIndexOptions } from "./anycast_index.ts";
export { ANN_PARAMS } from "./anycast_ann.ts";
export { MAX_ANYCAST_DIM, MAX_ANYCAST_K, unitVector } from "./anycast_vector.ts";
export { appendHop, MAX_SEMTRACE_BYTES, MAX_SEMTRACE_ENTRIES } from "./semtrace.ts";
export {
  type OverflowMode,
  Subscription,
  type SubscriptionOwner,
  type SubscriptionSpec,
} from "./subscription.ts";
export {
  MAX_TOPIC_BYTES,
  MAX_TOPIC_SEGMENTS,
  patternError,
  realityError,
  topicError,
  topicMatches,
} from "../protocol/mod.ts";
export { SubscriptionTrie } from "./trie.ts";
export {
  SPINE_DEFAULTS,
  SPINE_FLAGS,
  type SpineAnycastOptions,
  type SpineLimitOptions,
  type SpineNodeOptions,
  type SpineQueueOptions,
  type SpineTimeOptions,
} from "./flags.ts";
export { checkReportedClock, hasEntries, mergeClocks, stampedClock } from "./vclock.ts";
export {
  type AgentCard,
  compileCard,
  type CompiledCard,
  type JsonSchema,
  MAX_CARD_BYTES,
  type PayloadCheck,
  type PayloadEncoding,
} from "./card.ts";
export {
  AgentDirectory,
  type AgentKind,
  type AgentView,
  OPERATOR_PRODUCER_PREFIX,
} from "./agents.ts";
export {
  PRESENCE_DEFAULTS,
  PRESENCE_FLAGS,
  PresenceBoard,
  type PresenceEmit,
  type PresenceEvent,
  type PresenceIdentity,
  type PresenceKind,
  type PresenceMember,
  type PresenceOptions,
  presenceTopic,
} from "./presence.ts";
export { PRESENCE_PRODUCER } from "./presence_events.ts";
export { stampEntropy } from "./entropy.ts";
