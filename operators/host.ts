/**
 * The operator host of a node: installs, replaces, deletes, quarantines and resumes
 * operators, keeps them on disk under the data dir (restarted with the node), and writes
 * every such change to the audit log.
 * @module
 */
import { BusError } from "../runtime/protocol/mod.ts";
import { DEFAULT_LIMITS, type Engine, type GuestLogger } from "../runtime/sandbox/mod.ts";
import type { ControlParams, OperatorStateStore, Spine } from "../runtime/spine/mod.ts";
import type { AuditLog } from "../runtime/telemetry/mod.ts";
import { OPERATOR_DEFAULTS, type OperatorOptions } from "./config.ts";
import { OPERATOR_NAME, type OperatorManifest, parseManifest } from "./manifest.ts";
import { loadOperator } from "./operator_sandbox.ts";
import { type OperatorCounters, OperatorRunner } from "./runner.ts";
import { DEFAULT_MAX_HOPS } from "./trace.ts";

/** Defaults of the per-operator output limits. */
export const DEFAULT_OUTPUT_LIMITS = Object.freeze({ maxOutputs: 64, maxOutputBytes: 1 << 20 });

/** What `GET /v1/operators/{name}` shows of an operator. */
export interface OperatorStatus {
  readonly name: string;
  readonly status: "running" | "quarantined" | "stopped";
  /** SHA-256 of the component, hex. */
  readonly digest: string;
  readonly reality: string;
  readonly inputs: readonly string[];
  readonly counters: OperatorCounters;
  /** `handle` latency percentiles, ms. */
  readonly handle_ms: { p50: number; p99: number };
  /** Why it was quarantined, when it is. */
  readonly reason?: string;
}

/** What an {@linkcode OperatorHost} needs from the node. */
export interface OperatorHostOptions extends Partial<OperatorOptions> {
  readonly spine: Spine;
  readonly store: OperatorStateStore;
  /** The node's sandbox engine (checks components at publication). */
  readonly engine: Engine;
  /** Where components and manifests are kept; null keeps them in memory. */
  readonly dir: string | null;
  readonly audit?: AuditLog;
  /** The node's control parameters, handed to operators through `on-control`. */
  readonly control?: ControlParams;
  readonly log?: GuestLogger;
  /** @default 16 */
  readonly maxHops?: number;
}

interface Entry {
  runner: OperatorRunner;
  digest: string;
  status: "running" | "quarantined" | "stopped";
  reason?: string;
  failures: number[];
}

/** The operators of a node. */
export class OperatorHost {
  readonly #o: OperatorHostOptions;
  readonly #options: OperatorOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #log: GuestLogger;

  /** A host with no operators; {@linkcode load} restarts the stored ones. */
  constructor(options: OperatorHostOptions) {
    this.#o = options;
    this.#options = { ...OPERATOR_DEFAULTS, ...options };
    this.#log = options.log ?? (() => {});
  }

  /** Restarts the operators kept in the directory (one that cannot start is logged and skipped). */
  async load(): Promise<void> {
    const dir = this.#o.dir;
    if (!dir) return;
    await Deno.mkdir(dir, { recursive: true });
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.endsWith(".json")) continue;
      const name = e.name.slice(0, -5);
      try {
        const manifest = parseManifest(JSON.parse(await Deno.readTextFile(`${dir}/${e.name}`)));
        const component = await Deno.readFile(`${dir}/${name}.wasm`);
        await this.#install(name, component, manifest);
      } catch (err) {
        this.#log("error", `operator ${name} not restarted: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Installs or replaces an operator; resolves to true when it was created. Throws
   * `BusError`s (a refused component, manifest or `init`: `INVALID_ARGUMENT`).
   */
  async put(
    name: string,
    component: Uint8Array,
    manifestValue: unknown,
    actor = "anonymous",
  ): Promise<boolean> {
    if (!OPERATOR_NAME.test(name)) {
      throw new BusError("INVALID_ARGUMENT", "operator names match [a-z0-9_-]{1,64}");
    }
    const manifest = parseManifest(manifestValue);
    const created = !this.#entries.has(name);
    const digest = await this.#install(name, component, manifest);
    if (this.#o.dir) {
      await Deno.writeFile(`${this.#o.dir}/${name}.wasm`, component);
      await Deno.writeTextFile(`${this.#o.dir}/${name}.json`, JSON.stringify(manifest));
    }
    this.#o.audit?.append(created ? "operator.install" : "operator.replace", actor, {
      name,
      digest,
      reality: manifest.reality,
      inputs: manifest.inputs,
    });
    return created;
  }

  async #install(name: string, component: Uint8Array, manifest: OperatorManifest) {
    const l = manifest.limits ?? {};
    const limits = {
      fuelPerCall: l.fuel ?? DEFAULT_LIMITS.fuelPerCall,
      memoryPages: l.memory_pages ?? DEFAULT_LIMITS.memoryPages,
    };
    // Checked on the node's engine first: a wrong world or a bad module is a 4xx here.
    const module = await loadOperator(this.#o.engine, component, limits);
    const runner = new OperatorRunner({
      name,
      module,
      manifest,
      limits,
      outputLimits: {
        maxOutputs: l.max_outputs ?? DEFAULT_OUTPUT_LIMITS.maxOutputs,
        maxOutputBytes: l.max_output_bytes ?? DEFAULT_OUTPUT_LIMITS.maxOutputBytes,
      },
    }, {
      spine: this.#o.spine,
      store: this.#o.store,
      maxStateBytes: this.#options.operatorStateBytes,
      maxHops: this.#o.maxHops ?? DEFAULT_MAX_HOPS,
      log: this.#log,
      onFailure: (reason) => this.#failed(name, reason),
      control: this.#o.control,
    });
    // The old one stops between two pulses; the new one starts from the committed state.
    const old = this.#entries.get(name);
    await old?.runner.stop();
    try {
      await runner.start();
    } catch (e) {
      if (old && old.status === "running") await old.runner.start().catch(() => {});
      throw new BusError(
        "INVALID_ARGUMENT",
        `the operator does not start: ${(e as Error).message}`,
      );
    }
    this.#entries.set(name, { runner, digest: module.digest, status: "running", failures: [] });
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
    void entry.runner.stop();
    this.#log("error", `operator ${name} quarantined: ${entry.reason}`);
    this.#o.audit?.append("operator.quarantine", "node", { name, reason: entry.reason });
  }

  /** Deletes an operator (its state too); false when there was none. */
  async delete(name: string, actor = "anonymous"): Promise<boolean> {
    const entry = this.#entries.get(name);
    if (!entry) return false;
    this.#entries.delete(name);
    await entry.runner.stop();
    this.#o.store.dropOperatorState(entry.runner.spec.manifest.reality, name);
    if (this.#o.dir) {
      for (const ext of [".json", ".wasm"]) {
        await Deno.remove(`${this.#o.dir}/${name}${ext}`).catch(() => {});
      }
    }
    this.#o.audit?.append("operator.delete", actor, { name });
    return true;
  }

  /** Resumes a quarantined operator. Throws `NOT_FOUND`, or `INVALID_ARGUMENT` when running. */
  async resume(name: string, actor = "anonymous"): Promise<OperatorStatus> {
    const entry = this.#entries.get(name);
    if (!entry) throw new BusError("NOT_FOUND", `no operator ${name}`);
    if (entry.status === "running") {
      throw new BusError("INVALID_ARGUMENT", `operator ${name} is running`);
    }
    await entry.runner.start();
    entry.status = "running";
    entry.reason = undefined;
    entry.failures = [];
    this.#o.audit?.append("operator.resume", actor, { name });
    return this.status(name)!;
  }

  /** One operator's status, or undefined. */
  status(name: string): OperatorStatus | undefined {
    const e = this.#entries.get(name);
    if (!e) return undefined;
    const m = e.runner.spec.manifest;
    return {
      name,
      status: e.status,
      digest: e.digest,
      reality: m.reality,
      inputs: m.inputs,
      counters: { ...e.runner.counters },
      handle_ms: e.runner.latency(),
      ...(e.reason ? { reason: e.reason } : {}),
    };
  }

  /** Every operator's status, by name. */
  list(): OperatorStatus[] {
    return [...this.#entries.keys()].sort().map((n) => this.status(n)!);
  }

  /** Stops every operator (the node is shutting down). */
  async close(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((e) => e.runner.stop()));
  }
}
