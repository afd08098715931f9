/**
 * How an operator's outputs enter the bus: checked against its card, stamped with what
 * they derive from their input (hops, trace, semantic trace, id, time and entropy seed),
 * published through the Spine in order (the path of a client's publish), and copied to the
 * input's inbox when marked as replies. Also the typed error reply to a request input the
 * card refused.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import type { GuestLogger } from "../runtime/sandbox/mod.ts";
import type { Spine } from "../runtime/spine/mod.ts";
import { derivationOf, deriveOutput } from "./derive.ts";
import { encodedOutput } from "./output_bytes.ts";
import { refusalReply, replyCopy } from "./reply.ts";
import type { OperatorCounters } from "./stats.ts";
import { childTraceparent, HOPS_HEADER, hopsOf } from "./trace.ts";
import type { OperatorPulse } from "./world.ts";

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
  cardViolation(outputs: OperatorPulse[]): string | undefined {
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
   * Publishes the outputs of `input`, in order. Throws when the bus refuses one (the ones
   * before it stand); outputs over the hop limit are dropped, counted and logged.
   */
  async publish(input: arqon.v1.IPulse, outputs: OperatorPulse[]): Promise<void> {
    if (outputs.length === 0) return;
    const hops = hopsOf(input.headers) + 1;
    if (hops > this.#ctx.maxHops) {
      this.#counters.hopDrops += outputs.length;
      this.#ctx.log(
        "warn",
        `operator ${this.#name}: dropped ${outputs.length} output(s) of ${input.topic}: ` +
          `hop limit of ${this.#ctx.maxHops} reached`,
      );
      return;
    }
    const reality = this.#reality;
    const from = derivationOf(input);
    for (let index = 0; index < outputs.length; index++) {
      const out = outputs[index];
      if (out.reality !== "" && out.reality !== reality) {
        throw new Error(`output to reality ${out.reality}: an operator publishes to its own`);
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of out.headers) headers[k] = v;
      headers[HOPS_HEADER] = String(hops);
      const pulse: arqon.v1.IPulse = {
        topic: out.topic,
        realityId: reality,
        headers,
        contentType: out.contentType,
        payload: out.payload,
        traceContext: { traceparent: childTraceparent(input.traceContext?.traceparent) },
        spectral: out.spectral,
        // Semantic trace: the input's chain, then this operator; the Spine adds the topic.
        semtrace: [...(input.semtrace ?? []), this.producer],
      };
      // The producer's bytes first (the hand encoder writes no id, time or seed: the node's
      // stamp carries them), then the id, time and entropy seed derived from the input
      // (docs/time.md), which the Spine keeps: replay reproduces them.
      const source = encodedOutput(pulse);
      Object.assign(pulse, deriveOutput(from, this.#name, index));
      // In order: each output is accepted (sequenced) before the next is offered. The Spine
      // answers synchronously unless a policy is asynchronous: await only then (an `await`
      // of a plain value still costs a microtask turn per output).
      // Vector clocks: an output is causally after its input (set after the encoding: the
      // node's stamp carries the merged clock).
      if (input.vclock) pulse.vclock = input.vclock;
      const accepted = this.#ctx.spine.publish(pulse, this.producer, source);
      if (accepted instanceof Promise) await accepted;
      this.#counters.pulsesOut++;
      // An output marked as a reply also answers the input's request (operators/reply.ts).
      const reply = replyCopy(input, pulse);
      if (reply) await this.#ctx.spine.publish(reply, this.producer);
    }
  }
}
