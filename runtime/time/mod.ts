/**
 * Time for the Spine: the hybrid logical clock that stamps pulses and UUIDv7 ids.
 * @module
 */
export { compareHlc, HybridClock } from "./hlc.ts";
export { Uuid7Generator, uuid7Time } from "./uuid7.ts";
