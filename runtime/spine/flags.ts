/**
 * The Spine's node options: the default bounds and overflow policy of subscriber queues,
 * each with a flag.
 * @module
 */
import type { Flag } from "../config/mod.ts";
import type { OverflowMode } from "./subscription.ts";

/** Default queue bounds of subscriptions; every one has a flag (see `SPINE_FLAGS`). */
export interface SpineQueueOptions {
  /**
   * Default bound on deliveries waiting per subscription.
   * @default {65536}
   */
  queueMessages: number;
  /**
   * Default bound on bytes waiting per subscription.
   * @default {67108864}
   */
  queueBytes: number;
  /**
   * Default overflow policy of subscriptions.
   * @default {"drop-oldest"}
   */
  overflow: OverflowMode;
}

/** Bounds on what clients may create in the Spine (see `SPINE_FLAGS`). */
export interface SpineLimitOptions {
  /**
   * Realities the node holds (in memory and in its log); a publish or subscription that
   * would create one more is refused with QUOTA_EXCEEDED.
   * @default {1000}
   */
  maxRealities: number;
  /**
   * Control parameters one reality's set holds (`sys.control.set`); a change past it is
   * refused with QUOTA_EXCEEDED.
   * @default {256}
   */
  controlMaxParams: number;
  /**
   * Bytes one reality's control parameter set takes as JSON; a change past it is refused
   * with QUOTA_EXCEEDED.
   * @default {65536}
   */
  controlMaxBytes: number;
}

/** Semantic anycast (see docs/anycast.md); each has a flag. */
export interface SpineAnycastOptions {
  /**
   * Embedding dimension of realities that declare none (`limits.anycastDim`); 0: such
   * realities refuse anycast.
   * @default {0}
   */
  anycastDim: number;
  /**
   * Embeddings one subscription (or card) registers at most.
   * @default {16}
   */
  anycastMaxPerSubscription: number;
  /**
   * Embeddings one reality holds at most (QUOTA_EXCEEDED past it).
   * @default {100000}
   */
  anycastMaxPerReality: number;
  /**
   * Embeddings of one dimension up to which search is exact; past it an HNSW graph answers.
   * @default {2048}
   */
  anycastExactMax: number;
}

/** Time stamping (see docs/time.md); each has a flag. */
export interface SpineTimeOptions {
  /**
   * Stamp a vector clock (`Pulse.vclock`) on every sequenced pulse: `on` or `off` (then
   * causal subscriptions deliver in arrival order and the causal history merge orders by
   * reality and sequence).
   * @default {"on"}
   */
  vclock: "on" | "off";
}

/** Every Spine option that has a flag. */
export interface SpineNodeOptions
  extends SpineQueueOptions, SpineLimitOptions, SpineAnycastOptions, SpineTimeOptions {}

/** Defaults of {@linkcode SpineNodeOptions}. */
export const SPINE_DEFAULTS: Readonly<SpineNodeOptions> = Object.freeze({
  queueMessages: 65_536,
  queueBytes: 64 * 1024 * 1024,
  overflow: "drop-oldest",
  maxRealities: 1000,
  controlMaxParams: 256,
  controlMaxBytes: 65536,
  anycastDim: 0,
  anycastMaxPerSubscription: 16,
  anycastMaxPerReality: 100_000,
  anycastExactMax: 64,
  vclock: "on",
});

/** The Spine's options as flags, in `--help` order; the node adds them to its table. */
export const SPINE_FLAGS: readonly Flag<keyof SpineNodeOptions>[] = Object.freeze([
  {
    key: "queueMessages",
    flag: "queue-messages",
    kind: "int",
    help: "default max deliveries queued per subscription",
  },
  {
    key: "queueBytes",
    flag: "queue-bytes",
    kind: "int",
    help: "default max bytes queued per subscription",
  },
  {
    key: "overflow",
    flag: "overflow",
    kind: "enum",
    choices: ["drop-oldest", "drop-new", "disconnect"],
    help: "default overflow policy of subscriber queues",
  },
  {
    key: "maxRealities",
    flag: "max-realities",
    kind: "int",
    help: "realities the node holds; creating one more is refused (QUOTA_EXCEEDED)",
  },
  {
    key: "controlMaxParams",
    flag: "control-max-params",
    kind: "int",
    help: "control parameters per reality (sys.control.set); more are refused (QUOTA_EXCEEDED)",
  },
  {
    key: "controlMaxBytes",
    flag: "control-max-bytes",
    kind: "int",
    help: "bytes of a reality's control parameters as JSON; more are refused (QUOTA_EXCEEDED)",
  },
  {
    key: "anycastDim",
    flag: "anycast-dim",
    kind: "int",
    help: "anycast embedding dimension of realities without limits.anycastDim (0: none)",
  },
  {
    key: "anycastMaxPerSubscription",
    flag: "anycast-max-per-subscription",
    kind: "int",
    help: "anycast embeddings per subscription; more are refused (INVALID_ARGUMENT)",
  },
  {
    key: "anycastMaxPerReality",
    flag: "anycast-max-per-reality",
    kind: "int",
    help: "anycast embeddings per reality; more are refused (QUOTA_EXCEEDED)",
  },
  {
    key: "anycastExactMax",
    flag: "anycast-exact-max",
    kind: "int",
    help: "anycast embeddings of one dimension searched exactly; past it an HNSW graph",
  },
  {
    key: "vclock",
    flag: "vclock",
    kind: "enum",
    choices: ["on", "off"],
    help: "stamp a vector clock on every sequenced pulse (causal order, docs/time.md)",
  },
]);
