/**
 * The operator host of a node: installs, replaces, deletes, stops, quarantines and resumes
 * operators (each as `instances` parallel runners sharing its queue group), keeps them on
 * disk under the data dir (restarted with the node), snapshots and restores their state,
 * and writes every such change to the audit log.
 * @module
 */
import { BusError } from "../runtime/protocol/mod.ts";
import type { GuestLogger } from "../runtime/sandbox/mod.ts";
import { compileCard } from "../runtime/spine/mod.ts";
import { loadBuiltin } from "./builtin/mod.ts";
import { OPERATOR_DEFAULTS, type OperatorOptions } from "./config.ts";
import { OperatorFiles } from "./host_files.ts";
import { OPERATOR_NAME, type OperatorManifest, parseManifest } from "./manifest.ts";
import type { OperatorRunner } from "./runner.ts";
import { loadOperatorFor, makeRunners, type OperatorModule } from "./runner_factory.ts";
import type {
  OperatorFigures,
  OperatorHostOptions,
  OperatorStatus,
  OperatorStatusName,
  OperatorVersion,
} from "./host_types.ts";
import { type OperatorSnapshot, parseSnapshot } from "./snapshot.ts";
import { restoreInto, snapshotOf } from "./host_state.ts";
import { KeyedSerial } from "./serial.ts";
import { type Entry, statusOf } from "./host_entry.ts";
import { OperatorStats } from "./stats.ts";
import { DEFAULT_MAX_HOPS } from "./trace.ts";
import { operatorCpusOf } from "./thread_affinity.ts";

/** The operators of a node. */
export class OperatorHost {
  /** Told about every install and replacement made through `put` (replay keeps them). */
  onVersion: ((version: OperatorVersion) => void) | undefined;
  readonly #o: OperatorHostOptions;
  readonly #options: OperatorOptions;
  /** `--operator-cpus`, checked (empty: Workers run where the process runs). */
  readonly #cpus: readonly number[];
  readonly #entries = new Map<string, Entry>();
  readonly #log: GuestLogger;
  readonly #files: OperatorFiles;
  /** Changes to one operator run one at a time. */
  readonly #serial = new KeyedSerial();

  /** A host with no operators; {@linkcode load} restarts the stored ones. */
  constructor(options: OperatorHostOptions) {
    this.#o = options;
    this.#options = { ...OPERATOR_DEFAULTS, ...options };
    this.#cpus = operatorCpusOf(this.#options.operatorCpus);
    this.#log = options.log ?? (() => {});
    this.#files = new OperatorFiles(options.dir);
  }

  /** The limits in force (flags). */
  get options(): Readonly<OperatorOptions> {
    return this.#options;
  }

  /** Restarts the operators kept in the directory (one that cannot start is logged and skipped). */
  async load(): Promise<void> {
    const skipped = (name: string, err: Error) =>
      this.#log("error", `operator ${name} not restarted: ${err.message}`);
    for await (const saved of this.#files.list(skipped)) {
      try {
        const manifest = parseManifest(saved.manifest, this.#options.operatorMaxInstances);
        const builtin = typeof saved.manifest.builtin === "string"
          ? saved.manifest.builtin
          : undefined;
        await this.#install(saved.name, saved.component, manifest, builtin, saved.stopped);
      } catch (err) {
        skipped(saved.name, err as Error);
      }
    }
  }

  /**
   * Installs or replaces an operator; resolves to true when it was created. Throws
   * `BusError`s (a refused component, manifest or `init`: `INVALID_ARGUMENT`).
   */
  put(
    name: string,
    component: Uint8Array,
    manifestValue: unknown,
    actor = "anonymous",
    builtin?: string,
  ): Promise<boolean> {
    if (!OPERATOR_NAME.test(name)) {
      throw new BusError("INVALID_ARGUMENT", "operator names match [a-z0-9_-]{1,64}");
    }
    const manifest = parseManifest(manifestValue, this.#options.operatorMaxInstances);
    return this.#serial.run(name, async () => {
      const created = !this.#entries.has(name);
      const stopped = this.#entries.get(name)?.status === "stopped";
      const saved = builtin ? { ...manifest, builtin } : manifest;
      if (this.#o.replicate) {
        // Checked before it is shared: a component that does not load is refused here.
        const module = await this.#load(component, manifest);
        await this.#o.replicate({
          name,
          manifest: saved as unknown as Record<string, unknown>,
          digest: module.digest,
          component,
        });
      }
      const digest = await this.#install(name, component, manifest, builtin, stopped);
      this.onVersion?.({
        name,
        reality: manifest.reality,
        digest,
        component,
        manifest,
        sequence: this.#o.spine.reality(manifest.reality).sequence,
        created,
      });
      await this.#files.save(name, component, saved);
      this.#o.audit?.append(created ? "operator.install" : "operator.replace", actor, {
        name,
        digest,
        reality: manifest.reality,
        inputs: manifest.inputs,
        instances: manifest.instances ?? 1,
        ...(builtin ? { builtin } : {}),
      });
      return created;
    });
  }

  /**
   * Installs a shipped operator (`{"builtin": "<name>", ...manifest}`); its card defaults to
   * the built-in's `card.json`. Throws `NOT_FOUND` for an unknown built-in.
   */
  async putBuiltin(name: string, body: unknown, actor = "anonymous"): Promise<boolean> {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new BusError("INVALID_ARGUMENT", "manifest: must be a JSON object");
    }
    const { builtin, ...manifest } = body as Record<string, unknown>;
    if (typeof builtin !== "string") {
      throw new BusError("INVALID_ARGUMENT", "builtin must name a shipped operator");
    }
    const shipped = await loadBuiltin(builtin);
    return this.put(name, shipped.component, { card: shipped.card, ...manifest }, actor, builtin);
  }

  #runners(
    name: string,
    module: OperatorModule,
    m: OperatorManifest,
    stats: OperatorStats,
    onFailure = (reason: string) => this.#failed(name, reason),
  ): OperatorRunner[] {
    return makeRunners(name, module, m, stats, {
      spine: this.#o.spine,
      store: this.#o.store,
      maxStateBytes: this.#options.operatorStateBytes,
      cpus: this.#cpus,
      maxHops: this.#o.maxHops ?? DEFAULT_MAX_HOPS,
      log: this.#log,
      control: this.#o.control,
    }, onFailure);
  }

  #load(component: Uint8Array, manifest: OperatorManifest): Promise<OperatorModule> {
    return loadOperatorFor(this.#o.engine, component, manifest);
  }

  async #install(
    name: string,
    component: Uint8Array,
    manifest: OperatorManifest,
    builtin: string | undefined,
    stopped: boolean,
  ): Promise<string> {
    // Checked on the node's engine first: a wrong world or a bad module is a 4xx here.
    const module = await this.#load(component, manifest);
    // A cluster node runs it only while it holds its lease; else it waits in standby.
    const standby = !stopped && !(this.#o.mayRun?.(name) ?? true);
    const old = this.#entries.get(name);
    const stats = old?.stats ?? new OperatorStats();
    const runners = this.#runners(name, module, manifest, stats);
    // The old instances stop between two pulses; the new ones start from the committed
    // state (flushed first) and handle the pulses the old ones had taken but not handled.
    for (const r of old?.runners ?? []) await r.stop();
    try {
      await Promise.all(runners.map((r) => r.start()));
    } catch (e) {
      await Promise.all(runners.map((r) => r.stop()));
      if (old && old.status === "running") {
        await Promise.all(old.runners.map((r) => r.start().catch(() => {})));
      }
      throw new BusError(
        "INVALID_ARGUMENT",
        `the operator does not start: ${(e as Error).message}`,
      );
    }
    for (const r of old?.runners ?? []) runners[0].adopt(r.takeLeftover());
    if (stopped || standby) { for (const r of runners) await r.stop(); }
    this.#entries.set(name, {
      runners,
      manifest,
      digest: module.digest,
      builtin,
      status: stopped ? "stopped" : standby ? "standby" : "running",
      failures: [],
      stats,
    });
    // SAM: listed as an agent of its reality; its outputs are checked against its card.
    const card = manifest.card && compileCard(manifest.card, "operator");
    this.#o.spine.agents.registerOperator(
      name,
      manifest.reality,
      card,
      () => this.#entries.get(name)?.status ?? "stopped",
    );
    return module.digest;
  }

  #failed(name: string, reason: string): void {
    const entry = this.#entries.get(name);
    if (!entry || entry.status !== "running") return;
    const now = Date.now();
    const window = this.#options.operatorFailureWindowMs;
    entry.failures = entry.failures.filter((t) => now - t < window);
    entry.failures.push(now);
    if (entry.failures.length < this.#options.operatorMaxFailures) return;
    entry.status = "quarantined";
    entry.reason = `${entry.failures.length} failures within ${window} ms; last: ${reason}`;
    // Within one pulse: the runner stops before handling its next input.
    for (const r of entry.runners) void r.stop();
    this.#log("error", `operator ${name} quarantined: ${entry.reason}`);
    this.#o.audit?.append("operator.quarantine", "node", { name, reason: entry.reason });
  }

  #entry(name: string): Entry {
    const entry = this.#entries.get(name);
    if (!entry) throw new BusError("NOT_FOUND", `no operator ${name}`);
    return entry;
  }

  /** Forgets an operator: unlisted, stopped, the inputs it had taken dropped. */
  async #drop(name: string, entry: Entry): Promise<void> {
    this.#entries.delete(name);
    this.#o.spine.agents.unregisterOperator(name);
    for (const r of entry.runners) {
      await r.stop();
      r.takeLeftover();
    }
  }

  /** Deletes an operator (its state too); false when there was none. */
  delete(name: string, actor = "anonymous"): Promise<boolean> {
    return this.#serial.run(name, async () => {
      const entry = this.#entries.get(name);
      if (!entry) return false;
      await this.#o.replicate?.({ name, manifest: null });
      await this.#drop(name, entry);
      await this.#o.store.dropOperatorState(entry.manifest.reality, name);
      await this.#files.remove(name);
      this.#o.audit?.append("operator.delete", actor, { name });
      return true;
    });
  }

  /**
   * Stops an operator within one pulse (it keeps its state and the inputs it had taken;
   * pulses published while it is stopped are not queued for it). Throws `NOT_FOUND`.
   */
  stop(name: string, actor = "anonymous"): Promise<OperatorStatus> {
    return this.#serial.run(name, async () => {
      const entry = this.#entry(name);
      if (entry.status !== "stopped") {
        for (const r of entry.runners) await r.stop();
        entry.status = "stopped";
        entry.reason = undefined;
        await this.#files.setStopped(name, true);
        this.#o.audit?.append("operator.stop", actor, { name });
      }
      return this.status(name)!;
    });
  }

  /**
   * Starts a quarantined or stopped operator again. Throws `NOT_FOUND`, or
   * `INVALID_ARGUMENT` when it is running.
   */
  resume(name: string, actor = "anonymous"): Promise<OperatorStatus> {
    return this.#serial.run(name, async () => {
      const entry = this.#entry(name);
      if (entry.status === "running" || entry.status === "standby") {
        throw new BusError("INVALID_ARGUMENT", `operator ${name} is ${entry.status}`);
      }
      if (this.#o.mayRun?.(name) ?? true) {
        await Promise.all(entry.runners.map((r) => r.start()));
        entry.status = "running";
      } else entry.status = "standby";
      entry.reason = undefined;
      entry.failures = [];
      await this.#files.setStopped(name, false);
      this.#o.audit?.append("operator.resume", actor, { name });
      return this.status(name)!;
    });
  }

  /**
   * The operator's committed state, as of a pulse boundary (every queued commit flushed
   * first). Throws `NOT_FOUND`.
   */
  snapshotState(name: string): Promise<OperatorSnapshot> {
    const entry = this.#entry(name);
    return snapshotOf(this.#o.store, name, entry.manifest.reality);
  }

  /**
   * Replaces the operator's state with a snapshot, atomically, between two pulses: the
   * running instances see it from their next pulse. Throws `NOT_FOUND`, `INVALID_ARGUMENT`
   * (malformed) or `FRAME_TOO_LARGE` (over `--operator-state-bytes`); audited.
   */
  restoreState(name: string, snapshot: unknown, actor = "anonymous"): Promise<OperatorStatus> {
    this.#entry(name);
    const entries = parseSnapshot(snapshot, this.#options.operatorStateBytes);
    return this.#serial.run(name, async () => {
      const entry = this.#entry(name);
      const bytes = await restoreInto(
        this.#o.store,
        name,
        entry.manifest.reality,
        entry.runners,
        entry.status === "running",
        entries,
      );
      this.#o.audit?.append("operator.state.restore", actor, { name, keys: entries.length, bytes });
      return this.status(name)!;
    });
  }

  /**
   * Applies an install, replace or delete made on another node of the cluster (audited
   * there): installed in standby (or running, when this node may run it), kept on disk,
   * not shared again.
   */
  applyReplicated(
    name: string,
    manifestValue: Record<string, unknown> | null,
    component: () => Promise<Uint8Array>,
  ): Promise<void> {
    return this.#serial.run(name, async () => {
      if (manifestValue === null) {
        const entry = this.#entries.get(name);
        if (!entry) return;
        await this.#drop(name, entry);
        await this.#files.remove(name);
        return;
      }
      const { builtin, ...rest } = manifestValue;
      const manifest = parseManifest(rest, this.#options.operatorMaxInstances);
      const bytes = await component();
      const stopped = this.#entries.get(name)?.status === "stopped";
      await this.#install(
        name,
        bytes,
        manifest,
        typeof builtin === "string" ? builtin : undefined,
        stopped,
      );
      await this.#files.save(name, bytes, manifestValue);
    });
  }

  /**
   * Runs (`active`) or holds in standby an operator meant to run, as this node's lease
   * says; stopped and quarantined operators stay as they are. Resolves to its status.
   */
  setActive(name: string, active: boolean): Promise<OperatorStatusName | undefined> {
    return this.#serial.run(name, async () => {
      const entry = this.#entries.get(name);
      if (!entry) return undefined;
      if (active && entry.status === "standby") {
        // From the committed state (the cluster's, brought here first), as after a restart.
        await this.#o.beforeRun?.(name, entry.manifest);
        await Promise.all(entry.runners.map((r) => r.start()));
        entry.status = "running";
      } else if (!active && entry.status === "running") {
        for (const r of entry.runners) await r.stop();
        entry.status = "standby";
      }
      return entry.status;
    });
  }

  /** One operator's status, or undefined. */
  status(name: string): OperatorStatus | undefined {
    const e = this.#entries.get(name);
    if (!e) return undefined;
    return statusOf(name, e);
  }

  /**
   * Fresh runners of the operators `reality` has running, for a replay into `target`
   * (operators/replay): the same modules, manifests and names (their outputs derive as the
   * originals' do), one instance each, reading and writing `target`; not started. Their
   * failures go to `onFailure`, never towards a quarantine of the originals.
   */
  replayRunners(
    reality: string,
    target: string,
    onFailure: (name: string, reason: string) => void,
  ): { name: string; digest: string; runner: OperatorRunner }[] {
    const out: { name: string; digest: string; runner: OperatorRunner }[] = [];
    for (const name of [...this.#entries.keys()].sort()) {
      const e = this.#entries.get(name)!;
      if (e.manifest.reality !== reality || e.status !== "running") continue;
      const manifest = { ...e.manifest, reality: target, instances: 1 };
      const [runner] = this.#runners(
        name,
        e.runners[0].spec.module,
        manifest,
        new OperatorStats(),
        (reason) => onFailure(name, reason),
      );
      out.push({ name, digest: e.digest, runner });
    }
    return out;
  }

  /**
   * A runner of a kept version of an operator for a replay into `target` (as
   * {@linkcode replayRunners}); not started.
   */
  async replayRunnerOf(
    version: OperatorVersion,
    target: string,
    onFailure: (name: string, reason: string) => void,
  ): Promise<OperatorRunner> {
    const module = await this.#load(version.component, version.manifest);
    const manifest = { ...version.manifest, reality: target, instances: 1 };
    const [runner] = this.#runners(
      version.name,
      module,
      manifest,
      new OperatorStats(),
      (reason) => onFailure(version.name, reason),
    );
    return runner;
  }

  /** Every operator's status, by name. */
  list(): OperatorStatus[] {
    return [...this.#entries.keys()].sort().map((n) => this.status(n)!);
  }

  /** Every operator's figures (for `/metrics`). */
  figures(): OperatorFigures[] {
    return [...this.#entries].map(([name, e]) => ({ name, status: e.status, stats: e.stats }));
  }

  /** Stops every operator (the node is shutting down). */
  async close(): Promise<void> {
    await Promise.all([...this.#entries.values()].flatMap((e) => e.runners.map((r) => r.stop())));
  }
}
