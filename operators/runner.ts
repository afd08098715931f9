/**
 * One running operator: its Worker, its input subscriptions (a queue group per operator in
 * its reality), and the loop that feeds batches of input pulses to the worker and, for each
 * input in order, publishes its outputs through the Spine (the path of a client's publish:
 * CASIL, sequencing, routing, durability) then commits its state writes.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import type { GuestLogger, Module, SandboxLimits } from "../runtime/sandbox/mod.ts";
import type { OperatorStateStore, Spine, Subscription } from "../runtime/spine/mod.ts";
import type { OperatorManifest } from "./manifest.ts";
import type { OutputLimits } from "./operator_instance.ts";
import { childTraceparent, HOPS_HEADER, hopsOf } from "./trace.ts";
import { OperatorWorker } from "./worker_client.ts";
import { ControlFeed, type ControlSource } from "./control_feed.ts";
import type { PulseOutcome } from "./worker_protocol.ts";
import type { OperatorPulse } from "./world.ts";

/** Input pulses handed to the worker at most per batch. */
const BATCH = 64;
/** Handle latencies kept for the percentiles. */
const LATENCY_SAMPLES = 1024;

/** Counters of one operator, as `GET /v1/operators/{name}` shows them. */
export interface OperatorCounters {
  pulsesIn: number;
  pulsesOut: number;
  failures: number;
  fuelUsed: number;
  hopDrops: number;
}

/** What a runner needs from its host. */
export interface RunnerContext {
  readonly spine: Spine;
  readonly store: OperatorStateStore;
  readonly maxStateBytes: number;
  readonly maxHops: number;
  readonly log: GuestLogger;
  /** Told about every failed pulse (the host counts them towards quarantine). */
  readonly onFailure: (reason: string) => void;
  /** The reality's control parameters, handed over through `on-control`. */
  readonly control?: ControlSource;
}

/** The settings a runner starts with. */
export interface RunnerSpec {
  readonly name: string;
  /** The module the node's engine prepared. */
  readonly module: Module;
  readonly manifest: OperatorManifest;
  readonly limits: SandboxLimits;
  readonly outputLimits: OutputLimits;
}

/** One operator at work. */
export class OperatorRunner {
  /** The settings it runs with. */
  readonly spec: RunnerSpec;
  /** Its counters. */
  readonly counters: OperatorCounters = {
    pulsesIn: 0,
    pulsesOut: 0,
    failures: 0,
    fuelUsed: 0,
    hopDrops: 0,
  };
  readonly #ctx: RunnerContext;
  readonly #latencies: number[] = [];
  #worker: OperatorWorker | null = null;
  #subs: Subscription[] = [];
  #busy: Promise<void> | null = null;
  #stopped = true;
  readonly #control: ControlFeed;
  #unwatch = () => {};

  /** A runner, not yet started. */
  constructor(spec: RunnerSpec, ctx: RunnerContext) {
    this.spec = spec;
    this.#ctx = ctx;
    this.#control = new ControlFeed(ctx.control, spec.manifest.reality);
  }

  /** The producer id of its outputs. */
  get producer(): string {
    return `operator:${this.spec.name}`;
  }

  /** Starts the worker (`init` over the committed state), then subscribes to the inputs. */
  async start(): Promise<void> {
    const { manifest, name } = this.spec;
    const worker = new OperatorWorker(
      (level, message) => this.#ctx.log(level, `operator ${name}: ${message}`),
      (message) => this.#fail(message),
    );
    try {
      await worker.start({
        compiled: this.spec.module.compiled,
        digest: this.spec.module.digest,
        limits: this.spec.limits,
        outputLimits: this.spec.outputLimits,
        config: JSON.stringify(manifest.config ?? {}),
        state: this.#ctx.store.loadOperatorState(manifest.reality, name),
        maxStateBytes: this.#ctx.maxStateBytes,
      });
    } catch (e) {
      worker.stop();
      throw e;
    }
    this.#worker = worker;
    this.#stopped = false;
    // The current parameters right after init, before any input; later changes reach an
    // idle operator at once (#pump), a busy one before the inputs sequenced after them.
    this.#control.reset();
    const initial = this.#control.catchUp();
    if (initial) await worker.handle([], [initial]);
    this.#unwatch();
    this.#unwatch = this.#control.watch(() => this.#pump());
    const owner = { wake: () => this.#pump(), overflowed: () => {} };
    this.#subs = manifest.inputs.map((pattern, i) =>
      this.#ctx.spine.subscribe(owner, {
        id: i + 1,
        realityId: manifest.reality,
        pattern,
        queueGroup: manifest.queue_group ?? `op-${name}`,
      })
    );
    // A change made while the worker took its first set.
    this.#pump();
  }

  /** Stops within one pulse: unsubscribes, waits for the batch in flight, ends the worker. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unwatch();
    for (const sub of this.#subs) this.#ctx.spine.unsubscribe(sub);
    this.#subs = [];
    await this.#busy;
    this.#worker?.stop();
    this.#worker = null;
  }

  /** p50 and p99 of `handle`, ms, over the last calls (0 when none). */
  latency(): { p50: number; p99: number } {
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    const at = (q: number) => sorted.length === 0 ? 0 : sorted[Math.floor(q * (sorted.length - 1))];
    return { p50: at(0.5), p99: at(0.99) };
  }

  #pump(): void {
    if (this.#busy || this.#stopped) return;
    const batch: arqon.v1.IPulse[] = [];
    for (const sub of this.#subs) {
      for (const s of sub.take(BATCH - batch.length)) batch.push(s.pulse);
    }
    if (batch.length === 0) {
      const step = this.#control.catchUp();
      if (!step || !this.#worker) return;
      this.#busy = this.#worker.handle([], [step]).then(() => {}).finally(() => {
        this.#busy = null;
        this.#pump();
      });
      return;
    }
    this.#busy = this.#run(batch).finally(() => {
      this.#busy = null;
      this.#pump();
    });
  }

  async #run(batch: arqon.v1.IPulse[]): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    const outcomes = await worker.handle(batch.map(toOperatorPulse), this.#control.plan(batch));
    for (let i = 0; i < batch.length; i++) {
      this.counters.pulsesIn++;
      const outcome: PulseOutcome = outcomes[i] ??
        { ok: false, kind: "trap", message: "the worker stopped", ms: 0 };
      this.#sample(outcome.ms);
      if (!outcome.ok) {
        this.#fail(`${outcome.kind}: ${outcome.message}`);
        continue;
      }
      this.counters.fuelUsed += outcome.fuel;
      try {
        await this.#publish(batch[i], outcome.outputs);
        // State follows the outputs it produced; see docs/operators.md for the crash window.
        if (outcome.changes.length > 0) {
          this.#ctx.store.commitOperatorState(
            this.spec.manifest.reality,
            this.spec.name,
            outcome.changes,
          );
        }
      } catch (e) {
        this.#fail(`publishing an output failed: ${e instanceof Error ? e.message : e}`);
      }
    }
    if (worker.dead && !this.#stopped) await this.#restart();
  }

  async #restart(): Promise<void> {
    // The worker itself crashed (not a trap: those the sandbox survives): start afresh.
    this.#unwatch();
    for (const sub of this.#subs) this.#ctx.spine.unsubscribe(sub);
    this.#subs = [];
    this.#stopped = true;
    try {
      await this.start();
    } catch (e) {
      this.#fail(`cannot restart the worker: ${e instanceof Error ? e.message : e}`);
    }
  }

  #sample(ms: number): void {
    if (this.#latencies.length >= LATENCY_SAMPLES) this.#latencies.shift();
    this.#latencies.push(ms);
  }

  #fail(reason: string): void {
    this.counters.failures++;
    this.#ctx.log("warn", `operator ${this.spec.name}: pulse failed: ${reason}`);
    this.#ctx.onFailure(reason);
  }

  async #publish(input: arqon.v1.IPulse, outputs: OperatorPulse[]): Promise<void> {
    if (outputs.length === 0) return;
    const hops = hopsOf(input.headers) + 1;
    if (hops > this.#ctx.maxHops) {
      this.counters.hopDrops += outputs.length;
      this.#ctx.log(
        "warn",
        `operator ${this.spec.name}: dropped ${outputs.length} output(s) of ${input.topic}: ` +
          `hop limit of ${this.#ctx.maxHops} reached`,
      );
      return;
    }
    const reality = this.spec.manifest.reality;
    for (const out of outputs) {
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
      };
      // In order: each output is accepted (sequenced) before the next is offered.
      await this.#ctx.spine.publish(pulse, this.producer);
      this.counters.pulsesOut++;
    }
  }
}

function toOperatorPulse(p: arqon.v1.IPulse): OperatorPulse {
  const headers = Object.entries(p.headers ?? {}).sort((a, b) => a[0] < b[0] ? -1 : 1);
  return {
    topic: p.topic ?? "",
    reality: p.realityId ?? "",
    producer: p.producerId ?? "",
    headers,
    contentType: p.contentType ?? "",
    payload: p.payload ?? new Uint8Array(0),
    entropySeed: BigInt(p.entropySeed?.toString() ?? 0),
    wallMs: BigInt(p.timestamp?.wallMs?.toString() ?? 0),
    logical: Number(p.timestamp?.logical ?? 0),
  };
}
