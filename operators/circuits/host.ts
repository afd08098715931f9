/**
 * The circuits of a node: typed pipelines of operators. Publishing one checks its stages
 * (operators that exist, built-ins and their cards), then every hop's schemas (the producer's
 * `output_schema` against the consumer's `input_schema`, `compat.ts`), and only then installs
 * the built-in stages (consumers first, so no hop's pulses go to nobody), all or none: a
 * stage that fails to start rolls back the ones already switched, leaving the previous
 * circuit as it was. At run time each consumer's card refuses the pulses its input schema
 * does not accept (counted per hop). Circuits are kept under the data dir and come back with
 * the node.
 * @module
 */
import { createHash } from "node:crypto";
import { BusError, topicMatches } from "../../runtime/protocol/mod.ts";
import { type AgentCard, compileCard, type Spine } from "../../runtime/spine/mod.ts";
import type { AuditLog } from "../../runtime/telemetry/mod.ts";
import { loadBuiltin } from "../builtin/mod.ts";
import type { OperatorHost } from "../host.ts";
import type { OperatorStats } from "../stats.ts";
import { checkCompatible } from "./compat.ts";
import { CircuitFiles } from "./files.ts";
import { type CircuitSpec, type Hop, hopsOf, parseCircuit, stageLabel } from "./spec.ts";
import { realityError } from "../../runtime/protocol/mod.ts";
import { CIRCUIT_NAME } from "./spec.ts";

/** An incompatible hop: the 4xx names the hop, the property and the reason. */
export class HopError extends BusError {
  /** Index of the hop in the circuit's `hops`. */
  readonly hop: number;
  /** JSON pointer into the payload. */
  readonly property: string;
  /** What differs. */
  readonly reason: string;
  /** An incompatibility found at publication. */
  constructor(hop: number, label: string, property: string, reason: string) {
    super(
      "SCHEMA_VIOLATION",
      `hop ${hop} (${label}): property ${JSON.stringify(property || "(the payload)")}: ${reason}`,
    );
    this.hop = hop;
    this.property = property;
    this.reason = reason;
  }
}

/** One hop as `GET .../circuits/{name}` shows it. */
export interface HopStatus {
  readonly hop: number;
  readonly topic: string;
  /** The producing stage's index (null: the circuit's entry, published from outside). */
  readonly from: number | null;
  readonly to: number;
  /** Pulses that reached the consumer on this hop since the circuit was installed. */
  readonly pulses: number;
  /** Pulses its input schema refused (not delivered to it). */
  readonly violations: number;
  /** Input taken off its queue -> outputs accepted, at the consumer, ms. */
  readonly latency_ms: { readonly p50: number; readonly p99: number };
}

/** What `GET .../circuits/{name}` shows. */
export interface CircuitStatus {
  readonly name: string;
  readonly reality: string;
  readonly stages: readonly {
    readonly operator: string;
    readonly builtin?: string;
    readonly installed_by_circuit: boolean;
    readonly in: string;
    readonly out: string;
    readonly status: string;
    readonly pulses_out: number;
  }[];
  readonly hops: readonly HopStatus[];
  /** The stage with the highest p99 latency. */
  readonly slowest_stage: {
    readonly stage: number;
    readonly operator: string;
    readonly p99: number;
  } | null;
  readonly spec: CircuitSpec;
}

/** What a {@linkcode CircuitHost} needs from the node. */
export interface CircuitHostOptions {
  readonly operators: OperatorHost;
  readonly spine: Spine;
  /** Where circuits are kept; null keeps them in memory. */
  readonly dir: string | null;
  readonly audit?: AuditLog;
  readonly log?: (level: "info" | "warn" | "error", message: string) => void;
  /**
   * Shares each install, replace and delete with the cluster (a cluster node); on an
   * install, after its stage operators were installed (and shared by the operator host).
   */
  readonly replicate?: (reality: string, name: string, spec: CircuitSpec | null) => Promise<void>;
}

interface Resolved {
  /** Operator name per stage. */
  readonly names: string[];
  /** Which stages the circuit installs. */
  readonly owned: boolean[];
  readonly cards: (AgentCard | undefined)[];
}

interface Entry {
  readonly reality: string;
  readonly name: string;
  readonly spec: CircuitSpec;
  readonly resolved: Resolved;
  /** Counters of each stage's operator when the circuit was installed. */
  readonly base: { in: number; refused: number; out: number }[];
}

/** The circuits of a node. */
export class CircuitHost {
  readonly #o: CircuitHostOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #files: CircuitFiles;
  #chain: Promise<unknown> = Promise.resolve();

  /** A host with no circuits; {@linkcode load} brings back the stored ones. */
  constructor(options: CircuitHostOptions) {
    this.#o = options;
    this.#files = new CircuitFiles(options.dir);
  }

  /** One change at a time (circuits share the operator namespace). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Brings back the stored circuits (one that cannot be installed is logged and skipped). */
  async load(): Promise<void> {
    for await (const saved of this.#files.list((n, e) => this.#warn(`${n}: ${e.message}`))) {
      try {
        await this.#serial(() => this.#put(saved.reality, saved.name, saved.spec, "node", true));
      } catch (e) {
        this.#warn(`${saved.reality}/${saved.name}: ${(e as Error).message}`);
      }
    }
  }

  #warn(message: string): void {
    this.#o.log?.("error", `circuit not restored: ${message}`);
  }

  /**
   * Installs or replaces circuit `name` of `reality`; resolves to true when created. Throws
   * `BusError`s: a malformed body (`INVALID_ARGUMENT`), a missing operator or built-in
   * (`NOT_FOUND`), an incompatible hop ({@linkcode HopError}, `SCHEMA_VIOLATION`), a stage
   * that does not start (`INVALID_ARGUMENT`); in each case nothing changed.
   */
  put(reality: string, name: string, body: unknown, actor = "anonymous"): Promise<boolean> {
    checkNames(reality, name);
    const spec = parseCircuit(body);
    return this.#serial(() => this.#put(reality, name, spec, actor, false));
  }

  async #put(
    reality: string,
    name: string,
    spec: CircuitSpec,
    actor: string,
    restoring: boolean,
  ): Promise<boolean> {
    const key = `${reality}/${name}`;
    const previous = this.#entries.get(key);
    const resolved = await this.#resolve(reality, name, spec);
    checkHops(spec, resolved);
    await this.#install(reality, spec, resolved, previous, actor, restoring);
    const stats = this.#statsByName();
    this.#entries.set(key, {
      reality,
      name,
      spec,
      resolved,
      base: resolved.names.map((n) => {
        const c = stats.get(n)?.counters;
        return { in: c?.pulsesIn ?? 0, refused: c?.inputRefusals ?? 0, out: c?.pulsesOut ?? 0 };
      }),
    });
    if (!restoring) {
      await this.#o.replicate?.(reality, name, spec);
      await this.#files.save(reality, name, spec);
      this.#o.audit?.append(previous ? "circuit.replace" : "circuit.install", actor, {
        reality,
        name,
        stages: resolved.names,
      });
    }
    return !previous;
  }

  /** Each stage's operator name and card; throws for a missing operator or built-in. */
  async #resolve(reality: string, name: string, spec: CircuitSpec): Promise<Resolved> {
    const names: string[] = [], owned: boolean[] = [], cards: (AgentCard | undefined)[] = [];
    const agents = new Map(
      this.#o.spine.agents.list(reality).map((a) => [a.producer, a.card]),
    );
    for (const [i, stage] of spec.stages.entries()) {
      const at = `stages[${i}].operator`;
      if (typeof stage.operator === "string") {
        const status = this.#o.operators.status(stage.operator);
        if (!status) throw new BusError("NOT_FOUND", `${at}: no operator ${stage.operator}`);
        if (status.reality !== reality) {
          throw new BusError(
            "INVALID_ARGUMENT",
            `${at}: operator ${stage.operator} runs in reality ${status.reality}, not ${reality}`,
          );
        }
        if (!status.inputs.some((p) => topicMatches(p, stage.in))) {
          throw new BusError(
            "INVALID_ARGUMENT",
            `${at}: operator ${stage.operator} does not read ${stage.in} (its inputs: ${
              status.inputs.join(", ")
            })`,
          );
        }
        names.push(stage.operator);
        owned.push(false);
        cards.push(agents.get(`operator:${stage.operator}`));
        continue;
      }
      const shipped = await loadBuiltin(stage.operator.builtin).catch((e: BusError) => {
        throw new BusError(e.code, `${at}: ${e.message}`);
      });
      let card: AgentCard;
      try {
        card = compileCard(stage.operator.card ?? shipped.card, "operator").card;
      } catch (e) {
        throw new BusError("INVALID_ARGUMENT", `${at}.card: ${(e as Error).message}`);
      }
      names.push(stageOperatorName(reality, name, i));
      owned.push(true);
      cards.push(card);
    }
    return { names, owned, cards };
  }

  /**
   * Installs the built-in stages, consumers first; on a failure, puts back what it had
   * replaced and removes what it had created, then throws.
   */
  async #install(
    reality: string,
    spec: CircuitSpec,
    r: Resolved,
    previous: Entry | undefined,
    actor: string,
    restoring: boolean,
  ): Promise<void> {
    const ops = this.#o.operators;
    const done: { name: string; before?: Record<string, unknown> }[] = [];
    const prevManifests = new Map<string, Record<string, unknown>>();
    previous?.spec.stages.forEach((s, i) => {
      if (previous.resolved.owned[i]) {
        prevManifests.set(previous.resolved.names[i], manifestOf(previous.reality, s));
      }
    });
    for (let i = spec.stages.length - 1; i >= 0; i--) {
      if (!r.owned[i]) continue;
      const name = r.names[i];
      const exists = ops.status(name) !== undefined;
      // Restoring at start: the operator host already restarted the stage's operator.
      if (restoring && exists) continue;
      try {
        await ops.putBuiltin(name, manifestOf(reality, spec.stages[i]), actor);
        done.push({ name, before: exists ? prevManifests.get(name) : undefined });
      } catch (e) {
        for (const d of done.reverse()) {
          try {
            if (d.before) await ops.putBuiltin(d.name, d.before, actor);
            else await ops.delete(d.name, actor);
          } catch (undo) {
            this.#o.log?.("error", `circuit rollback of ${d.name}: ${(undo as Error).message}`);
          }
        }
        const err = e as BusError;
        throw new BusError(err.code ?? "INTERNAL", `${stageLabel(spec, i)}: ${err.message}`);
      }
    }
    // Stages of the previous circuit that the new one does not have.
    for (const [name] of prevManifests) {
      if (!r.names.includes(name)) await ops.delete(name, actor).catch(() => false);
    }
  }

  /** Deletes a circuit and the operators it installed; false when there was none. */
  delete(reality: string, name: string, actor = "anonymous"): Promise<boolean> {
    return this.#serial(async () => {
      const key = `${reality}/${name}`;
      const entry = this.#entries.get(key);
      if (!entry) return false;
      for (const [i, op] of entry.resolved.names.entries()) {
        if (entry.resolved.owned[i]) await this.#o.operators.delete(op, actor);
      }
      this.#entries.delete(key);
      await this.#files.remove(reality, name);
      await this.#o.replicate?.(reality, name, null);
      this.#o.audit?.append("circuit.delete", actor, { reality, name });
      return true;
    });
  }

  /**
   * Applies a circuit installed, replaced or deleted on another node of the cluster (audited
   * there). Its stage operators come separately (the operator host shares them first); a
   * delete here leaves them to their own deletes.
   */
  applyReplicated(reality: string, name: string, spec: unknown): Promise<void> {
    return this.#serial(async () => {
      if (spec === null) {
        this.#entries.delete(`${reality}/${name}`);
        await this.#files.remove(reality, name);
        return;
      }
      const parsed = parseCircuit(spec);
      await this.#put(reality, name, parsed, "node", true);
      await this.#files.save(reality, name, parsed);
    });
  }

  #statsByName(): Map<string, OperatorStats> {
    return new Map(this.#o.operators.figures().map((f) => [f.name, f.stats]));
  }

  /** One circuit's status, or undefined. */
  status(reality: string, name: string): CircuitStatus | undefined {
    const e = this.#entries.get(`${reality}/${name}`);
    if (!e) return undefined;
    const stats = this.#statsByName();
    const ops = this.#o.operators;
    const stages = e.spec.stages.map((s, i) => {
      const op = e.resolved.names[i];
      const c = stats.get(op)?.counters;
      return {
        operator: op,
        ...(typeof s.operator === "string" ? {} : { builtin: s.operator.builtin }),
        installed_by_circuit: e.resolved.owned[i],
        in: s.in,
        out: s.out,
        status: ops.status(op)?.status ?? "missing",
        pulses_out: (c?.pulsesOut ?? 0) - e.base[i].out,
      };
    });
    const hops = hopsOf(e.spec).map((h, hop) => {
      const st = stats.get(e.resolved.names[h.to]);
      const c = st?.counters;
      const b = e.base[h.to];
      const refused = (c?.inputRefusals ?? 0) - b.refused;
      return {
        hop,
        topic: h.topic,
        from: h.from,
        to: h.to,
        pulses: (c?.pulsesIn ?? 0) - b.in + refused,
        violations: refused,
        latency_ms: st?.stageLatency() ?? { p50: 0, p99: 0 },
      };
    });
    let slowest: CircuitStatus["slowest_stage"] = null;
    for (const [i, op] of e.resolved.names.entries()) {
      const p99 = stats.get(op)?.stageLatency().p99 ?? 0;
      if (!slowest || p99 > slowest.p99) slowest = { stage: i, operator: op, p99 };
    }
    return { name, reality, stages, hops, slowest_stage: slowest, spec: e.spec };
  }

  /** The circuits of a reality, by name. */
  list(reality: string): CircuitStatus[] {
    return [...this.#entries.values()].filter((e) => e.reality === reality)
      .map((e) => e.name).sort().map((n) => this.status(reality, n)!);
  }
}

function checkNames(reality: string, name: string): void {
  const err = realityError(reality);
  if (err) throw new BusError("INVALID_ARGUMENT", `reality ${JSON.stringify(reality)}: ${err}`);
  if (!CIRCUIT_NAME.test(name)) {
    throw new BusError("INVALID_ARGUMENT", "circuit names match [a-z0-9_-]{1,64}");
  }
}

/** The name of the operator a circuit installs for stage `i`: readable, unique per reality. */
export function stageOperatorName(reality: string, circuit: string, i: number): string {
  const h = createHash("sha256").update(`${reality}/${circuit}`).digest("hex").slice(0, 6);
  return `c-${circuit.slice(0, 40)}-${h}-${i}`;
}

function manifestOf(reality: string, s: CircuitSpec["stages"][number]): Record<string, unknown> {
  const op = s.operator as Exclude<typeof s.operator, string>;
  return {
    builtin: op.builtin,
    reality,
    inputs: [s.in],
    ...(op.config !== undefined ? { config: op.config } : {}),
    ...(op.card !== undefined ? { card: op.card } : {}),
    ...(op.limits !== undefined ? { limits: op.limits } : {}),
    ...(op.instances !== undefined ? { instances: op.instances } : {}),
  };
}

/** Checks every hop; throws a {@linkcode HopError} for the first incompatible one. */
function checkHops(spec: CircuitSpec, r: Resolved): void {
  hopsOf(spec).forEach((h: Hop, hop) => {
    if (h.from === null) return;
    const producer = r.cards[h.from], consumer = r.cards[h.to];
    const label = `${stageLabel(spec, h.from)} -> ${stageLabel(spec, h.to)} on ${h.topic}`;
    if (consumer?.input_schema === undefined) return;
    const pe = producer?.output_encoding ?? "json", ce = consumer.input_encoding ?? "json";
    if (pe !== ce) {
      throw new HopError(hop, label, "", `encoding ${pe} is not the consumer's ${ce}`);
    }
    const bad = checkCompatible(producer?.output_schema, consumer.input_schema);
    if (bad) throw new HopError(hop, label, bad.path, bad.reason);
  });
}
