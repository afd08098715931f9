/**
 * How an operator's outputs enter the bus: checked against its card (the Worker built them
 * with what they derive from their input: hops, trace, semantic trace, id, time and entropy
 * seed, operators/output_build.ts), published through the Spine in order (the path of a client's publish), and copied to the
 * input's inbox when marked as replies. Also the typed error reply to a request input the
 * card refused.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import type { GuestLogger } from "../runtime/sandbox/mod.ts";
import type { Spine } from "../runtime/spine/mod.ts";
import type { BuiltOutput } from "./output_build.ts";
import { refusalReply, replyCopy } from "./reply.ts";
import type { OperatorCounters } from "./stats.ts";

/** What an {@linkcode OutputPublisher} needs from the node. */
export interface PublisherContext {
  readonly spine: Spine;
  readonly maxHops: number;
  readonly log: GuestLogger;
}

/** Publishes the outputs of one operator (one per runner). */
export class OutputPublisher {
  readonly #name: string;
  readonly #reality: string;
  readonly #ctx: PublisherContext;
  readonly #counters: OperatorCounters;
  /** The producer id of the outputs: `operator:<name>`. */
  readonly producer: string;

  /** A publisher for operator `name` of `reality`, counting into `counters`. */
  constructor(name: string, reality: string, ctx: PublisherContext, counters: OperatorCounters) {
    this.#name = name;
    this.#reality = reality;
    this.#ctx = ctx;
    this.#counters = counters;
    this.producer = `operator:${name}`;
  }

  /** The first output the operator's card refuses, as a message (undefined: all pass). */
  cardViolation(outputs: readonly { topic: string; payload: Uint8Array }[]): string | undefined {
    for (const out of outputs) {
      try {
        this.#ctx.spine.agents.checkPublish(
          { topic: out.topic, payload: out.payload },
          this.producer,
          this.#reality,
        );
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      }
    }
    return undefined;
  }

  /**
   * A request input the card refused: its requester gets a typed error, not a timeout. Sent
   * on a later turn, never from inside the routing of the request itself; a reply the bus
   * refuses (the operator's own output_schema may not allow the error body) is dropped.
   */
  answerRefusal(input: arqon.v1.IPulse): void {
    const reply = refusalReply(input, this.#name);
    if (!reply) return;
    setTimeout(() => {
      try {
        Promise.resolve(this.#ctx.spine.publish(reply, this.producer)).catch(() => {});
      } catch { /* refused: the requester times out instead */ }
    }, 0);
  }

  /**
   * Publishes the outputs of `input` (built by the Worker, operators/output_build.ts), in
   * order. Throws (or rejects) when the bus refuses one (the ones before it stand); outputs
   * over the hop limit are dropped, counted and logged.
   *
   * Synchronous while the Spine answers synchronously (no asynchronous policy): a promise
   * only when one must be awaited. The runner publishes a whole batch's outputs in one turn,
   * so a subscriber's outbox flushes them in one write; an `await` per output let every
   * output's flush run between two outputs (measured with bench-sum at full rate: 2.5
   * outputs per `sendto`, against ~50 now).
   */
  publish(
    input: arqon.v1.IPulse,
    hops: number,
    outputs: readonly BuiltOutput[],
  ): void | Promise<void> {
    if (outputs.length === 0) return;
    if (hops > this.#ctx.maxHops) {
      this.#counters.hopDrops += outputs.length;
      this.#ctx.log(
        "warn",
        `operator ${this.#name}: dropped ${outputs.length} output(s) of ${input.topic}: ` +
          `hop limit of ${this.#ctx.maxHops} reached`,
      );
      return;
    }
    return this.#publishFrom(input, outputs, 0);
  }

  /** Publishes `outputs` from `index` on; goes on asynchronously after a promise. */
  #publishFrom(
    input: arqon.v1.IPulse,
    outputs: readonly BuiltOutput[],
    index: number,
  ): void | Promise<void> {
    for (; index < outputs.length; index++) {
      const out = outputs[index];
      // Field order as the Worker encoded them (one hidden class for every output).
      const pulse: arqon.v1.IPulse = {
        topic: out.topic,
        realityId: this.#reality,
        headers: out.headers,
        contentType: out.contentType,
        payload: out.payload,
        traceContext: { traceparent: out.traceparent },
        spectral: out.spectral,
        semtrace: out.semtrace,
        // Derived from the input (docs/time.md), not in the encoding: the Spine keeps them
        // and its stamp carries them, so replay reproduces them.
        id: out.id,
        timestamp: { wallMs: out.wallMs, logical: out.logical },
        entropySeed: out.entropySeed,
      };
      // Vector clocks: an output is causally after its input (the stamp carries the merge).
      if (input.vclock) pulse.vclock = input.vclock;
      // In order: each output is accepted (sequenced) before the next is offered.
      const accepted = this.#ctx.spine.publish(pulse, this.producer, out.source ?? undefined);
      const next = index + 1;
      if (accepted instanceof Promise) {
        return accepted.then(() => {
          this.#counters.pulsesOut++;
          const reply = this.#reply(input, pulse);
          return reply
            ? reply.then(() => this.#publishFrom(input, outputs, next))
            : this.#publishFrom(input, outputs, next);
        });
      }
      this.#counters.pulsesOut++;
      const reply = this.#reply(input, pulse);
      if (reply) return reply.then(() => this.#publishFrom(input, outputs, next));
    }
  }

  /**
   * An output marked as a reply also answers the input's request (operators/reply.ts): a
   * promise only when its publish must be awaited.
   */
  #reply(input: arqon.v1.IPulse, pulse: arqon.v1.IPulse): Promise<void> | undefined {
    const reply = replyCopy(input, pulse);
    if (!reply) return undefined;
    const accepted = this.#ctx.spine.publish(reply, this.producer);
    return accepted instanceof Promise ? accepted.then(() => {}) : undefined;
  }
}
