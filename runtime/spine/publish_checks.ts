/**
 * What a publish must pass before its reality is looked at: a valid topic (not one of
 * the node's own), valid spectral metadata, and a reported vector clock that is
 * consistent (or dropped when the node stamps none).
 * @module
 */
import { BusError, type IPulse, spectralError, topicError } from "../protocol/mod.ts";
import { isPresenceTopic } from "./presence_events.ts";
import { checkReportedClock, hasEntries } from "./vclock.ts";

// Topics seen valid, so that a steady publisher pays one Set lookup; bounded.
const MAX_CACHED_TOPICS = 100_000;

/** The publish-time checks of one Spine, with its cache of topics already found valid. */
export class PublishChecks {
  readonly #topicOk = new Set<string>();
  readonly #vclock: boolean;

  /** `vclock`: whether the Spine stamps vector clocks (else reported ones are dropped). */
  constructor(vclock: boolean) {
    this.#vclock = vclock;
  }

  /**
   * Checks `input`; throws `BusError` on refusal. Returns false when it changed the pulse
   * (a reported vector clock dropped because the node stamps none): the producer's bytes
   * no longer encode it then.
   */
  check(input: IPulse): boolean {
    const topic = input.topic ?? "";
    if (!this.#topicOk.has(topic)) {
      const err = topicError(topic);
      if (err) throw new BusError("INVALID_TOPIC", err);
      // sys.presence.* is the node's to publish; never cached, so each publish is checked
      // here while other topics keep their one Set lookup.
      if (isPresenceTopic(topic)) {
        throw new BusError("FORBIDDEN", `"${topic}": sys.presence.* is published by the node`);
      }
      if (this.#topicOk.size > MAX_CACHED_TOPICS) this.#topicOk.clear();
      this.#topicOk.add(topic);
    }
    if (input.spectral) {
      const err = spectralError(input.spectral);
      if (err) throw new BusError("INVALID_ARGUMENT", err);
    }
    // Vector clocks: a producer that reports none pays this one check (decoded pulses
    // carry an empty map).
    if (input.vclock && hasEntries(input.vclock)) {
      if (this.#vclock) checkReportedClock(input);
      else {
        input.vclock = undefined;
        return false;
      }
    }
    return true;
  }
}
