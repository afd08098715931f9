/**
 * The CASIL engine: the installed policies with their bindings (installed, replaced,
 * rebound and deleted one governance operation at a time, each stored and audited), and
 * the set it hands to the `PulseGuard` the Spine calls for every publish (`guard.ts`; the
 * chain lookup is in `chains.ts`, the evaluation of a pulse in `evaluate.ts`).
 * @module
 */
import type { PulseGuard } from "../runtime/spine/mod.ts";
import {
  ComponentRejectedError,
  DEFAULT_LIMITS,
  Engine,
  type SandboxLimits,
} from "../runtime/sandbox/mod.ts";
import type { AuditLog } from "../runtime/telemetry/audit/mod.ts";
import { normalizeBinding, type PolicyBinding } from "./bindings.ts";
import type { Installed } from "./chains.ts";
import { DEFAULT_MAX_UPLOAD_BYTES } from "./config.ts";
import { PolicyError } from "./errors.ts";
import { DEFAULT_MAX_PAYLOAD_BYTES, PolicyGuard } from "./guard.ts";
import { CasilMetrics } from "./metrics.ts";
import { loadPolicy, PolicySandbox } from "./policy_sandbox.ts";
import type { GuestLogger } from "./policy_world.ts";
import { type PolicyRecord, PolicyStore } from "./store.ts";
import { canonicalConfig, checkPolicyName } from "./validate.ts";

/** Engine options. */
export interface PolicyEngineOptions {
  /** Fuel and memory caps of every policy. */
  limits?: SandboxLimits;
  /** Largest accepted component, in bytes (default 4 MiB). */
  maxUploadBytes?: number;
  /**
   * Largest payload a redaction may produce, in bytes: a node passes its `--max-frame-bytes`,
   * so a policy cannot make a pulse larger than any publish could be. A larger redaction
   * denies the pulse (reason `too_large`).
   * @default 1048576
   */
  maxPayloadBytes?: number;
  /**
   * The sandbox engine that prepares the policies (one per node). When absent the policy
   * engine makes its own, closed by {@linkcode PolicyEngine.close}.
   */
  sandbox?: Engine;
  /**
   * Instrument uploads in a background worker (a node does); for the engine made when
   * `sandbox` is absent.
   * @default false
   */
  instrumentInWorker?: boolean;
  /** Folder for installed policies; null or absent keeps them in memory only. */
  dir?: string | null;
  /** Where governance actions are recorded. */
  audit?: AuditLog;
  /** Metrics (registered on the node's registry by the caller). */
  metrics?: CasilMetrics;
  /**
   * Told the guard to install whenever policies come or go: the engine while any policy is
   * installed, undefined when none is (so the publish path pays nothing without policies).
   */
  setGuard?: (guard: PulseGuard | undefined) => void;
  /** Receives the policies' `log` calls and engine warnings. */
  log?: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  /**
   * Shares each change made here before it takes effect (a cluster node writes it to the
   * cluster's governance store); a rejection refuses the change, nothing is stored or swapped.
   */
  replicate?: (change: PolicyChange) => Promise<void>;
}

/** A policy change as it is shared with other nodes. */
export interface PolicyChange {
  /** The policy. */
  readonly name: string;
  /** Its new record, or null when it was deleted. */
  readonly record: PolicyRecord | null;
  /** The component, when it changed (install or replace). */
  readonly component?: Uint8Array;
}

export { DEFAULT_MAX_UPLOAD_BYTES };

/** What a publisher asks for when installing or replacing a policy. */
export interface PutPolicyOptions {
  /** JSON object text passed to the policy's `configure` (default `{}`). */
  config?: string;
  /** Where it applies (defaults fill the gaps). */
  binding?: Partial<PolicyBinding>;
}

/**
 * Installed policies, governed one operation at a time, and the guard over the publish path
 * (inherited from {@linkcode PolicyGuard}, which runs the set this engine last swapped in).
 */
export class PolicyEngine extends PolicyGuard {
  /** Limits every policy runs under. */
  readonly limits: Readonly<SandboxLimits>;
  /** Largest accepted component. */
  readonly maxUploadBytes: number;
  /** The audit log, when one was given. */
  readonly audit?: AuditLog;
  readonly #store: PolicyStore;
  readonly #log: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  readonly #setGuard?: (guard: PulseGuard | undefined) => void;
  readonly #replicate?: (change: PolicyChange) => Promise<void>;
  readonly #sandbox: Engine;
  /** The sandbox engine, when this policy engine made it (and so closes it). */
  readonly #ownSandbox?: Engine;
  /** Replaced as a whole on every change, so a publish sees one consistent set. */
  #policies = new Map<string, Installed>();
  /** Governance operations run one at a time (store, swap and audit stay in step). */
  #queue: Promise<unknown> = Promise.resolve();

  /** An engine with no policies; call {@linkcode load} to restore stored ones. */
  constructor(options: PolicyEngineOptions = {}) {
    super(
      options.metrics ?? new CasilMetrics(),
      options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    );
    this.limits = Object.freeze({ ...(options.limits ?? DEFAULT_LIMITS) });
    this.maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
    this.audit = options.audit;
    this.#store = new PolicyStore(options.dir ?? null);
    this.#setGuard = options.setGuard;
    this.#replicate = options.replicate;
    this.#sandbox = options.sandbox ??
      (this.#ownSandbox = new Engine({ worker: options.instrumentInWorker ?? false }));
    this.#log = options.log ??
      ((level, message) => console[level === "debug" ? "log" : level](message));
  }

  /** Closes the sandbox engine this policy engine made (installed policies keep running). */
  close(): void {
    this.#ownSandbox?.close();
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op, op);
    this.#queue = run.catch(() => {});
    return run;
  }

  #guestLogger(name: string): GuestLogger {
    return (level, message) => this.#log(level, `policy ${name}: ${message}`);
  }

  /**
   * Loads the component of an already recorded policy (at start, or changed on another
   * node). One that cannot be read, no longer loads or does not match its digest stays
   * installed as unavailable: its pulses are denied until it is replaced or deleted.
   */
  async #restore(record: PolicyRecord, bytes: () => Promise<Uint8Array>): Promise<Installed> {
    const stats = this.metrics.stats(record.name);
    try {
      const module = await loadPolicy(this.#sandbox, await bytes(), this.limits);
      if (module.digest !== record.digest) throw new Error("component does not match its digest");
      const sandbox = new PolicySandbox(module, record.config, this.#guestLogger(record.name));
      return { record, sandbox, stats };
    } catch (e) {
      const problem = `cannot load: ${e instanceof Error ? e.message : e}`;
      this.#log("error", `policy ${record.name} ${problem}; its pulses are denied`);
      return { record, sandbox: null, problem, stats };
    }
  }

  #swap(next: Map<string, Installed>): void {
    // Installed before the first policy becomes visible, removed after the last one went.
    if (next.size > 0) this.#setGuard?.(this);
    this.#policies = next;
    this.use(next);
    if (next.size === 0) this.#setGuard?.(undefined);
    this.metrics.policies.set(next.size);
  }

  /**
   * Loads the policies stored in the engine's folder. A policy whose component is missing or
   * no longer loads stays installed as unavailable: its pulses are denied until it is
   * replaced or deleted.
   */
  load(): Promise<number> {
    return this.#serial(async () => {
      const next = new Map<string, Installed>();
      for (const record of await this.#store.records()) {
        next.set(
          record.name,
          await this.#restore(record, () => this.#store.component(record.name)),
        );
      }
      this.#swap(next);
      return next.size;
    });
  }

  /**
   * Installs or replaces policy `name` from component bytes. The component is checked,
   * compiled, instantiated and configured before it replaces the old one, which keeps
   * serving until then; the swap itself is a single assignment. Throws
   * {@linkcode PolicyError} on bad input.
   */
  put(
    name: string,
    component: Uint8Array,
    options: PutPolicyOptions = {},
    actor = "anonymous",
  ): Promise<{ record: PolicyRecord; replaced: boolean }> {
    try {
      checkPolicyName(name);
    } catch (e) {
      return Promise.reject(e);
    }
    if (component.length > this.maxUploadBytes) {
      return Promise.reject(
        new PolicyError(
          "FRAME_TOO_LARGE",
          `component of ${component.length} bytes exceeds the limit of ${this.maxUploadBytes} bytes`,
        ),
      );
    }
    return this.#serial(async () => {
      const config = canonicalConfig(options.config);
      const old = this.#policies.get(name);
      let binding: PolicyBinding;
      try {
        binding = normalizeBinding({ ...(old?.record.binding ?? {}), ...(options.binding ?? {}) });
      } catch (e) {
        throw new PolicyError("INVALID_ARGUMENT", (e as Error).message);
      }
      let sandbox: PolicySandbox;
      try {
        const module = await loadPolicy(this.#sandbox, component, this.limits);
        sandbox = new PolicySandbox(module, config, this.#guestLogger(name));
      } catch (e) {
        if (e instanceof ComponentRejectedError) {
          throw new PolicyError("INVALID_ARGUMENT", `policy rejected (${e.reason}): ${e.message}`);
        }
        throw e;
      }
      const now = new Date().toISOString();
      const record: PolicyRecord = {
        name,
        digest: sandbox.module.digest,
        size: component.length,
        config,
        binding,
        version: (old?.record.version ?? 0) + 1,
        createdAt: old?.record.createdAt ?? now,
        updatedAt: now,
      };
      const next = new Map(this.#policies).set(name, {
        record,
        sandbox,
        stats: this.metrics.stats(name),
      });
      await this.#replicate?.({ name, record, component });
      await this.#persist(next, () => this.#store.putComponent(name, component));
      this.#swap(next);
      this.audit?.append(old ? "policy.replace" : "policy.publish", actor, {
        name,
        digest: record.digest,
        size: record.size,
        version: record.version,
        config,
        binding,
        previousDigest: old?.record.digest,
      });
      return { record, replaced: old !== undefined };
    });
  }

  /** Changes where policy `name` applies. */
  bind(name: string, binding: Partial<PolicyBinding>, actor = "anonymous"): Promise<PolicyRecord> {
    return this.#serial(async () => {
      const old = this.#policies.get(name);
      if (!old) throw new PolicyError("NOT_FOUND", `no policy named ${name}`);
      let normalized: PolicyBinding;
      try {
        normalized = normalizeBinding({ ...old.record.binding, ...binding });
      } catch (e) {
        throw new PolicyError("INVALID_ARGUMENT", (e as Error).message);
      }
      const record: PolicyRecord = {
        ...old.record,
        binding: normalized,
        version: old.record.version + 1,
        updatedAt: new Date().toISOString(),
      };
      const next = new Map(this.#policies).set(name, { ...old, record });
      await this.#replicate?.({ name, record });
      await this.#persist(next);
      this.#swap(next);
      this.audit?.append("policy.bind", actor, {
        name,
        version: record.version,
        binding: normalized,
        previousBinding: old.record.binding,
      });
      return record;
    });
  }

  /** Removes policy `name`. */
  delete(name: string, actor = "anonymous"): Promise<PolicyRecord> {
    return this.#serial(async () => {
      const old = this.#policies.get(name);
      if (!old) throw new PolicyError("NOT_FOUND", `no policy named ${name}`);
      const next = new Map(this.#policies);
      next.delete(name);
      await this.#replicate?.({ name, record: null });
      await this.#persist(next);
      await this.#store.removeComponent(name);
      this.#swap(next);
      this.audit?.append("policy.delete", actor, { name, digest: old.record.digest });
      return old.record;
    });
  }

  /**
   * Applies a change made on another node of the cluster (already audited there): installs,
   * replaces, rebinds or removes `name` as `record` says, without sharing it again. The
   * component is fetched (by `component`) only when its digest is not the one installed.
   * A component that no longer loads leaves the policy installed as unavailable (its
   * pulses denied), as at start.
   */
  applyReplicated(
    name: string,
    record: PolicyRecord | null,
    component: (digest: string) => Promise<Uint8Array>,
  ): Promise<void> {
    return this.#serial(async () => {
      const old = this.#policies.get(name);
      const next = new Map(this.#policies);
      if (record === null) {
        if (!old) return;
        next.delete(name);
        await this.#persist(next);
        await this.#store.removeComponent(name);
        this.#swap(next);
        return;
      }
      const stats = this.metrics.stats(name);
      if (old?.sandbox && old.record.digest === record.digest) {
        // Same component: a rebind keeps the instance; a new config configures a new one.
        const sandbox = old.record.config === record.config
          ? old.sandbox
          : new PolicySandbox(old.sandbox.module, record.config, this.#guestLogger(name));
        next.set(name, { record, sandbox, stats });
        await this.#persist(next);
      } else {
        let bytes: Uint8Array | undefined;
        next.set(
          name,
          await this.#restore(record, async () => bytes = await component(record.digest)),
        );
        await this.#persist(next, bytes ? () => this.#store.putComponent(name, bytes!) : undefined);
      }
      this.#swap(next);
    });
  }

  async #persist(next: Map<string, Installed>, before?: () => Promise<void>): Promise<void> {
    try {
      await before?.();
      await this.#store.putRecords([...next.values()].map((p) => p.record));
    } catch (e) {
      throw new PolicyError("STORAGE_FAILED", `cannot store the policy: ${(e as Error).message}`);
    }
  }

  /** Installed policies, by name. */
  list(): (PolicyRecord & { available: boolean; problem?: string })[] {
    return [...this.#policies.values()]
      .map((p) => ({ ...p.record, available: p.sandbox !== null, problem: p.problem }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One installed policy, or undefined. */
  get(name: string): (PolicyRecord & { available: boolean; problem?: string }) | undefined {
    const p = this.#policies.get(name);
    return p && { ...p.record, available: p.sandbox !== null, problem: p.problem };
  }
}
