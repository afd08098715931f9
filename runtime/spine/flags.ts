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

/** Every Spine option that has a flag. */
export interface SpineNodeOptions extends SpineQueueOptions, SpineLimitOptions {}

/** Defaults of {@linkcode SpineNodeOptions}. */
export const SPINE_DEFAULTS: Readonly<SpineNodeOptions> = Object.freeze({
  queueMessages: 65_536,
  queueBytes: 64 * 1024 * 1024,
  overflow: "drop-oldest",
  maxRealities: 1000,
  controlMaxParams: 256,
  controlMaxBytes: 65536,
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
]);
