/**
 * The CASIL engine: the installed policies with their bindings, and the `PulseGuard` the
 * Spine calls for every publish. For each (reality, topic) the bound policies run in order;
 * the first deny wins; a redaction replaces the payload for the rest of the chain and for
 * subscribers. Fail-closed: a trap, fuel exhaustion, memory cap hit, or a policy that cannot
 * be loaded denies the pulse.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import type { GuardVerdict, PulseGuard } from "../runtime/spine/mod.ts";
import {
  ComponentRejectedError,
  DEFAULT_LIMITS,
  Engine,
  type SandboxLimits,
  SandboxTrapError,
} from "../runtime/sandbox/mod.ts";
import type { AuditLog } from "../runtime/telemetry/audit/mod.ts";
import { bindingMatches, normalizeBinding, type PolicyBinding } from "./bindings.ts";
import { DEFAULT_MAX_UPLOAD_BYTES } from "./config.ts";
import { PolicyError } from "./errors.ts";
import { CasilMetrics, type DenialReason, type PolicyStats } from "./metrics.ts";
import { loadPolicy, PolicySandbox } from "./policy_sandbox.ts";
import type { GuestLogger, PolicyInput } from "./policy_world.ts";
import { type PolicyRecord, PolicyStore } from "./store.ts";

/** Engine options. */
export interface PolicyEngineOptions {
  /** Fuel and memory caps of every policy. */
  limits?: SandboxLimits;
  /** Largest accepted component, in bytes (default 4 MiB). */
  maxUploadBytes?: number;
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
}

export { DEFAULT_MAX_UPLOAD_BYTES };

/** What a publisher asks for when installing or replacing a policy. */
export interface PutPolicyOptions {
  /** JSON object text passed to the policy's `configure` (default `{}`). */
  config?: string;
  /** Where it applies (defaults fill the gaps). */
  binding?: Partial<PolicyBinding>;
}

interface Installed {
  readonly record: PolicyRecord;
  /** Hot-path counters of this policy name. */
  readonly stats: PolicyStats;
  /** Null when the policy could not be loaded: its pulses are denied. */
  readonly sandbox: PolicySandbox | null;
  /** Why it could not be loaded. */
  readonly problem?: string;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const EMPTY = new Uint8Array(0);
const ALLOW: GuardVerdict = Object.freeze({ allow: true });

const NO_HEADERS: readonly (readonly [string, string])[] = Object.freeze([]);

/** Header pairs sorted by name, so a policy sees the same list for the same pulse. */
function sortedHeaders(headers: Record<string, string>): readonly (readonly [string, string])[] {
  let any = false;
  for (const _ in headers) {
    any = true;
    break;
  }
  if (!any) return NO_HEADERS;
  const entries = Object.entries(headers);
  if (entries.length === 0) return NO_HEADERS;
  if (entries.length > 1) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries;
}

function canonicalConfig(config: string | undefined): string {
  if (config === undefined || config.trim() === "") return "{}";
  let parsed: unknown;
  try {
    parsed = JSON.parse(config);
  } catch {
    throw new PolicyError("INVALID_ARGUMENT", "config must be a JSON object");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new PolicyError("INVALID_ARGUMENT", "config must be a JSON object");
  }
  return JSON.stringify(parsed);
}

/** Installed policies and the guard over the publish path. */
export class PolicyEngine implements PulseGuard {
  /** Limits every policy runs under. */
  readonly limits: Readonly<SandboxLimits>;
  /** Largest accepted component. */
  readonly maxUploadBytes: number;
  /** Metrics of evaluation. */
  readonly metrics: CasilMetrics;
  /** The audit log, when one was given. */
  readonly audit?: AuditLog;
  readonly #store: PolicyStore;
  readonly #log: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  readonly #setGuard?: (guard: PulseGuard | undefined) => void;
  readonly #sandbox: Engine;
  /** The sandbox engine, when this policy engine made it (and so closes it). */
  readonly #ownSandbox?: Engine;
  /** Replaced as a whole on every change, so a publish sees one consistent set. */
  #policies = new Map<string, Installed>();
  /** Chains by reality, then topic; dropped on every change. */
  #chains = new Map<string, Map<string, Installed[]>>();
  #chainCount = 0;
  /** Reused for every call: `inspect` is synchronous and guests cannot re-enter it. */
  readonly #input: PolicyInput = {
    reality: "",
    topic: "",
    producer: "",
    headers: NO_HEADERS,
    contentType: "",
    payload: EMPTY,
    entropySeed: 0,
    wallMs: 0,
    logical: 0,
  };
  /** Governance operations run one at a time (store, swap and audit stay in step). */
  #queue: Promise<unknown> = Promise.resolve();

  /** An engine with no policies; call {@linkcode load} to restore stored ones. */
  constructor(options: PolicyEngineOptions = {}) {
    this.limits = Object.freeze({ ...(options.limits ?? DEFAULT_LIMITS) });
    this.maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
    this.metrics = options.metrics ?? new CasilMetrics();
    this.audit = options.audit;
    this.#store = new PolicyStore(options.dir ?? null);
    this.#setGuard = options.setGuard;
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

  #swap(next: Map<string, Installed>): void {
    // Installed before the first policy becomes visible, removed after the last one went.
    if (next.size > 0) this.#setGuard?.(this);
    this.#policies = next;
    if (next.size === 0) this.#setGuard?.(undefined);
    this.#chains = new Map();
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
        try {
          const bytes = await this.#store.component(record.name);
          const module = await loadPolicy(this.#sandbox, bytes, this.limits);
          if (module.digest !== record.digest) {
            throw new Error("component does not match its digest");
          }
          const sandbox = new PolicySandbox(module, record.config, this.#guestLogger(record.name));
          next.set(record.name, { record, sandbox, stats: this.metrics.stats(record.name) });
        } catch (e) {
          const problem = `cannot load: ${e instanceof Error ? e.message : e}`;
          this.#log("error", `policy ${record.name} ${problem}; its pulses are denied`);
          next.set(record.name, {
            record,
            sandbox: null,
            problem,
            stats: this.metrics.stats(record.name),
          });
        }
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
    if (!NAME.test(name)) {
      return Promise.reject(
        new PolicyError("INVALID_ARGUMENT", "policy name must match [a-z0-9][a-z0-9_-]{0,63}"),
      );
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
      await this.#persist(next);
      await this.#store.removeComponent(name);
      this.#swap(next);
      this.audit?.append("policy.delete", actor, { name, digest: old.record.digest });
      return old.record;
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

  /** The policies that run for (reality, topic), in order. */
  chain(reality: string, topic: string): string[] {
    return this.#chain(reality, topic).map((p) => p.record.name);
  }

  #chain(reality: string, topic: string): Installed[] {
    let byTopic = this.#chains.get(reality);
    if (!byTopic) this.#chains.set(reality, byTopic = new Map());
    let chain = byTopic.get(topic);
    if (!chain) {
      chain = [...this.#policies.values()]
        .filter((p) => bindingMatches(p.record.binding, reality, topic))
        .sort((a, b) =>
          a.record.binding.order - b.record.binding.order ||
          (a.record.name < b.record.name ? -1 : 1)
        );
      if (++this.#chainCount > 10_000) {
        this.#chains = new Map([[reality, byTopic = new Map()]]);
        this.#chainCount = 1;
      }
      byTopic.set(topic, chain);
    }
    return chain;
  }

  #deny(policy: string, reason: DenialReason, message: string): GuardVerdict {
    this.metrics.denials.labels(policy, reason).inc();
    return { allow: false, code: "POLICY_DENIED", reason: message };
  }

  /** Runs the chain for one pulse (the Spine's `PulseGuard` hook). */
  inspect(pulse: arqon.v1.IPulse): GuardVerdict {
    const reality = pulse.realityId || "default";
    const topic = pulse.topic ?? "";
    const chain = this.#chain(reality, topic);
    if (chain.length === 0) return ALLOW;
    const input = this.#input;
    input.reality = reality;
    input.topic = topic;
    input.producer = pulse.producerId ?? "";
    input.headers = pulse.headers ? sortedHeaders(pulse.headers) : NO_HEADERS;
    input.contentType = pulse.contentType ?? "";
    input.payload = pulse.payload ?? EMPTY;
    input.entropySeed = Number(pulse.entropySeed ?? 0);
    const ts = pulse.timestamp;
    input.wallMs = ts ? Number(ts.wallMs ?? 0) : 0;
    input.logical = ts ? Number(ts.logical ?? 0) : 0;
    let redacted = false;
    for (const p of chain) {
      const name = p.record.name;
      if (!p.sandbox) {
        return this.#deny(name, "unavailable", `policy ${name} is unavailable (${p.problem})`);
      }
      p.stats.evaluations++;
      let verdict;
      try {
        verdict = p.sandbox.evaluate(input);
      } catch (e) {
        if (e instanceof SandboxTrapError) {
          this.metrics.instanceRestarts.labels(name).inc();
          // `unreachable` keeps the `trap` label it always had (the metric's values are fixed).
          const label = e.kind === "unreachable" ? "trap" : e.kind;
          return this.#deny(name, label, `policy ${name} failed: ${e.message}`);
        }
        return this.#deny(name, "trap", `policy ${name} failed: ${(e as Error).message}`);
      }
      if (verdict.kind === "deny") return this.#deny(name, "denied", `${name}: ${verdict.reason}`);
      if (verdict.kind === "redact") {
        p.stats.redactions++;
        input.payload = verdict.payload;
        redacted = true;
      }
    }
    return redacted ? { allow: true, payload: input.payload } : ALLOW;
  }
}
