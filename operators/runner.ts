/**
 * One running instance of an operator: its Worker, its input subscriptions (a queue group
 * per operator in its reality), and the loop that feeds batches of input pulses to the
 * worker and hands each answered batch, in order, to `batch_publish.ts` (its outputs
 * through the Spine, its state change behind them in one store transaction).
 * @module
 */
import type { GuestLogger, Module, SandboxLimits } from "../runtime/sandbox/mod.ts";
import type {
  OperatorStateStore,
  Spine,
  StampedPulse,
  Subscription,
} from "../runtime/spine/mod.ts";
import { inputGroup, type OperatorManifest } from "./manifest.ts";
import type { OutputLimits } from "./operator_instance.ts";
import { type OperatorCounters, OperatorStats } from "./stats.ts";
import { OperatorWorker } from "./worker_client.ts";
import { ControlFeed, type ControlSource } from "./control_feed.ts";
import { BatchPipeline } from "./batch_pipeline.ts";
import { type BatchRun, publishBatch } from "./batch_publish.ts";
import { OutputPublisher } from "./output_publisher.ts";
import { BatchSizer, MAX_BATCH } from "./batch_size.ts";

export type { OperatorCounters };

/** What a runner needs from its host. */
export interface RunnerContext {
  readonly spine: Spine;
  readonly store: OperatorStateStore;
  readonly maxStateBytes: number;
  /** CPUs each Worker pins itself to at its start (`--operator-cpus`); none: not pinned. */
  readonly cpus?: readonly number[];
  readonly maxHops: number;
  readonly log: GuestLogger;
  /** Told about every failed pulse (the host counts them towards quarantine). */
  readonly onFailure: (reason: string) => void;
  /** The operator's figures, shared by its instances (default: this runner's own). */
  readonly stats?: OperatorStats;
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
  /** Which instance this is (0-based); instances of one operator share its queue group. */
  readonly instance?: number;
  /** State writes fail (more than one instance; docs/operators.md, "Instances"). */
  readonly readOnlyState?: boolean;
}

/** One operator at work. */
export class OperatorRunner {
  /** The settings it runs with. */
  readonly spec: RunnerSpec;
  /** Its figures (shared with the operator's other instances). */
  readonly stats: OperatorStats;
  readonly #ctx: RunnerContext;
  #worker: OperatorWorker | null = null;
  #subs: Subscription[] = [];
  /** Batches sent to the worker and not yet published, oldest first. */
  readonly #pipeline = new BatchPipeline();
  /** The loop publishing the pipeline's batches (null: not running). */
  #busy: Promise<void> | null = null;
  #stopped = true;
  /** Between two pulses on request (`pause`): the batch in flight is put back. */
  #paused = false;
  /** Input pulses taken but not handled (stopped or paused mid-batch): handled first. */
  #leftover: StampedPulse[] = [];
  /**
   * The worker's state ran ahead of the committed one (a failed commit, pulses put back):
   * it is reloaded from the store before the next batch.
   */
  #resync = false;
  readonly #control: ControlFeed;
  /** Publishes the outputs (and refusal replies). */
  readonly #out: OutputPublisher;
  #unwatch = () => {};
  /**
   * Most input pulses per batch handed to the worker (operators/batch_size.ts: a batch takes
   * what is queued, up to this and to what the operator's pulse cost allows). Outputs and
   * state per input are the same whatever the batches.
   */
  batchSize: number = MAX_BATCH;
  /** The batch size the operator's pulse cost allows. */
  readonly #sizer = new BatchSizer();
  /** What publishing a batch needs of this runner (operators/batch_publish.ts). */
  readonly #batchRun: BatchRun;

  /** A runner, not yet started. */
  constructor(spec: RunnerSpec, ctx: RunnerContext) {
    this.spec = spec;
    this.#ctx = ctx;
    this.stats = ctx.stats ?? new OperatorStats();
    this.#control = new ControlFeed(ctx.control, spec.manifest.reality);
    this.#out = new OutputPublisher(spec.name, spec.manifest.reality, ctx, this.stats.counters);
    this.#batchRun = {
      name: spec.name,
      reality: spec.manifest.reality,
      fuelPerCall: spec.limits.fuelPerCall,
      stats: this.stats,
      store: ctx.store,
      out: this.#out,
      sizer: this.#sizer,
      halted: () => this.#stopped || this.#paused,
      putBack: (from) => this.#putBack(from),
      resync: () => this.#resync = true,
      fail: (kind, message) => this.#fail(kind, message),
    };
  }

  /** Its counters (the operator's, when instances share them). */
  get counters(): OperatorCounters {
    return this.stats.counters;
  }

  /** The producer id of its outputs. */
  get producer(): string {
    return this.#out.producer;
  }

  /** Starts the worker (`init` over the committed state), then subscribes to the inputs. */
  async start(): Promise<void> {
    const { manifest, name } = this.spec;
    const worker = new OperatorWorker(
      (level, message) => this.#ctx.log(level, `operator ${name}: ${message}`),
      (message) => this.#fail("control", message),
    );
    try {
      await worker.start({
        compiled: this.spec.module.compiled,
        digest: this.spec.module.digest,
        limits: this.spec.limits,
        outputLimits: this.spec.outputLimits,
        config: JSON.stringify(manifest.config ?? {}),
        state: await this.#committedState(),
        maxStateBytes: this.#ctx.maxStateBytes,
        name,
        reality: manifest.reality,
        readOnlyState: this.spec.readOnlyState,
        cpus: this.#ctx.cpus,
      });
    } catch (e) {
      worker.stop();
      throw e;
    }
    this.#worker = worker;
    this.#stopped = false;
    this.#paused = false;
    // A fresh worker starts from the committed state: nothing to reload.
    this.#resync = false;
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
        queueGroup: inputGroup(name, manifest),
      })
    );
    // Pulses a stop or a replacement left over are handled first, in order.
    // (And a control change made while the worker took its first set.)
    this.#pump();
  }

  /** The committed state (everything queued so far flushed first). */
  async #committedState(): Promise<[string, Uint8Array][]> {
    const { manifest, name } = this.spec;
    await this.#ctx.store.flush();
    return this.#ctx.store.loadOperatorState(manifest.reality, name);
  }

  /**
   * Stops within one pulse: unsubscribes, ends the worker at once (a batch it is still
   * computing is abandoned), lets the pulse whose outputs are being published finish, and
   * keeps the input pulses taken or queued but not handled for the next `start` (or
   * `takeLeftover`).
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unwatch();
    // Pulses already routed to it are kept (unsubscribing would drop them): a replacement or
    // a resume handles them after the ones in flight; a delete drops them.
    const queued: StampedPulse[] = [];
    for (const sub of this.#subs) {
      for (const s of sub.take(sub.queued)) queued.push(s);
      this.#ctx.spine.unsubscribe(sub);
    }
    this.#subs = [];
    this.#worker?.stop();
    this.#worker = null;
    await this.#busy;
    this.#leftover.push(...queued);
  }

  /** Input pulses taken but not handled, handed over (a replacement handles them first). */
  takeLeftover(): StampedPulse[] {
    const rest = this.#leftover;
    this.#leftover = [];
    return rest;
  }

  /** Adds pulses to handle before any new input (from the runner this one replaces). */
  adopt(pulses: StampedPulse[]): void {
    this.#leftover.push(...pulses);
    this.#pump();
  }

  /**
   * Holds the runner between two pulses (e.g. for a state restore): the batch in flight
   * stops after the pulse being published; its other pulses wait for {@linkcode unpause}.
   */
  async pause(): Promise<void> {
    this.#paused = true;
    await this.#busy;
  }

  /** Lets a paused runner go on, over `state` (a fresh instance) when given. */
  unpause(state?: [string, Uint8Array][]): void {
    if (state) this.#worker?.reset(state);
    this.#paused = false;
    this.#pump();
  }

  /**
   * Resolves once every input routed to the runner so far is handled (or it stopped): a
   * replay paces its publishing by it, so no input queue ever overflows. True when it
   * had to wait.
   */
  async settle(): Promise<boolean> {
    let waited = false;
    while (
      !this.#stopped && !this.#paused &&
      (this.#busy || this.#leftover.length > 0 || this.#subs.some((s) => s.queued > 0))
    ) {
      waited = true;
      await (this.#busy ?? new Promise((r) => setTimeout(r, 1)));
    }
    return waited;
  }

  /** Inputs routed to it and not handled yet (a replay keeps this under a window). */
  get backlog(): number {
    let n = this.#leftover.length;
    for (const s of this.#subs) n += s.queued;
    return n;
  }

  /** p50 and p99 of `handle`, ms, over the last calls (0 when none). */
  latency(): { p50: number; p99: number } {
    return this.stats.latency();
  }

  #pump(): void {
    if (this.#stopped || this.#paused) return;
    this.#fill();
    if (this.#busy || this.#pipeline.length === 0) return;
    this.#busy = this.#drain().finally(() => {
      this.#busy = null;
      this.#pump();
    });
  }

  /**
   * Sends batches to the worker while the pipeline has room (two in flight: the worker
   * computes the next batch while the outputs of the previous one are published). A batch
   * that must reload the worker's state waits until the ones before it are published.
   */
  #fill(): void {
    const worker = this.#worker;
    while (
      worker && !worker.dead && !this.#stopped && !this.#paused && this.#pipeline.canSend()
    ) {
      const resets = this.#resync;
      if (resets && this.#pipeline.length > 0) return;
      const batch = this.#take();
      const takenAt = performance.now();
      if (batch.length === 0) {
        // Idle: a control change reaches the operator at once.
        const step = this.#pipeline.length === 0 ? this.#control.catchUp() : undefined;
        if (step) {
          const outcomes = worker.handle([], [step]);
          this.#pipeline.push({ batch, takenAt, outcomes, resets: false });
        }
        return;
      }
      this.#resync = false;
      const controls = this.#control.plan(batch.map((s) => s.pulse));
      // The Worker gets each input's encoding as held for delivery (it decodes it there).
      const outcomes = resets
        ? this.#committedState().then((state) => {
          worker.reset(state);
          return worker.handle(batch, controls);
        })
        : worker.handle(batch, controls);
      this.#pipeline.push({ batch, takenAt, outcomes, resets });
    }
  }

  /** The next batch of inputs: leftovers first, then each input's queue (lanes in order). */
  #take(): StampedPulse[] {
    while (true) {
      const max = this.#sizer.limit(this.batchSize);
      const batch: StampedPulse[] = this.#leftover.splice(0, max);
      let refused = 0;
      // Latency lanes: with critical or bulk inputs, a batch takes every input's critical
      // pulses first and bulk ones last (one pass per lane); otherwise one pass.
      const firstRank = this.#subs.some((sub) => sub.laned) ? 0 : 2;
      for (let rank = firstRank; rank <= 2; rank++) {
        for (const sub of this.#subs) {
          for (const s of sub.take(max - batch.length, rank)) {
            // SAM: an input its card's input_schema refuses never reaches handle.
            if (this.#ctx.spine.agents.admitInput(this.producer, s.pulse)) batch.push(s);
            else {
              refused++;
              this.#out.answerRefusal(s.pulse);
            }
          }
        }
      }
      this.counters.inputRefusals += refused;
      if (batch.length > 0 || refused === 0) return batch;
    }
  }

  /** Publishes the pipeline's batches in order, refilling it after each. */
  async #drain(): Promise<void> {
    while (this.#pipeline.length > 0) {
      try {
        await publishBatch(this.#pipeline.head!, this.#batchRun);
      } finally {
        this.#pipeline.shift();
      }
      const worker = this.#worker;
      // The worker itself crashed: the batches still in flight fail as a whole (counted),
      // then it starts afresh.
      if (worker?.dead && !this.#stopped && this.#pipeline.length === 0) await this.#restart();
      this.#fill();
    }
  }

  /**
   * Publishing stops before the head batch's pulse `from`: the pulses the worker handled
   * but the node did not publish wait for the next batch (or the next start, or the
   * replacement), which reloads the worker's state first (it ran ahead over them).
   */
  #putBack(from: number): void {
    this.#leftover.unshift(...this.#pipeline.putBack(from));
    this.#resync = true;
  }

  async #restart(): Promise<void> {
    // The worker itself crashed (not a trap: those the sandbox survives): start afresh,
    // keeping what was queued for it.
    this.#unwatch();
    for (const sub of this.#subs) {
      for (const s of sub.take(sub.queued)) this.#leftover.push(s);
      this.#ctx.spine.unsubscribe(sub);
    }
    this.#subs = [];
    this.#stopped = true;
    try {
      await this.start();
    } catch (e) {
      this.#fail("worker", `cannot restart the worker: ${e instanceof Error ? e.message : e}`);
    }
  }

  #fail(kind: string, message: string): void {
    this.stats.fail(kind);
    const reason = `${kind}: ${message}`;
    this.#ctx.log("warn", `operator ${this.spec.name}: pulse failed: ${reason}`);
    this.#ctx.onFailure(reason);
  }
}
