/**
 * A circuit's definition (the body of `PUT /v1/realities/{r}/circuits/{name}`): stages, each
 * an operator (installed, or a built-in the circuit installs itself) reading topic `in` and
 * writing topic `out`. Checked whole before anything is installed: shapes, topics, two stages
 * writing one topic, cycles. The hops are the edges `out` of one stage = `in` of another.
 * @module
 */
import { BusError, topicError } from "../../runtime/protocol/mod.ts";
import { OPERATOR_NAME } from "../manifest.ts";

/** Most stages of one circuit. */
export const MAX_STAGES = 16;

/** A stage's operator when the circuit installs it: a built-in and its manifest fields. */
export interface BuiltinStage {
  /** The shipped operator (`operators/builtin/<name>`). */
  readonly builtin: string;
  /** Its `init` config. */
  readonly config?: Record<string, unknown>;
  /** Its card (default: the built-in's `card.json`); the hop checks read its schemas. */
  readonly card?: unknown;
  /** Manifest limits. */
  readonly limits?: unknown;
  /**
   * Parallel instances.
   * @default 1
   */
  readonly instances?: number;
}

/** One stage. */
export interface StageSpec {
  /** An installed operator's name, or a built-in the circuit installs. */
  readonly operator: string | BuiltinStage;
  /** The topic it reads. */
  readonly in: string;
  /** The topic it writes. */
  readonly out: string;
}

/** A checked circuit definition. */
export interface CircuitSpec {
  readonly stages: readonly StageSpec[];
}

/** A hop: stage `from` writes `topic`, stage `to` reads it (`from` null: the circuit's entry). */
export interface Hop {
  readonly from: number | null;
  readonly to: number;
  readonly topic: string;
}

/** Names of circuits: `[a-z0-9_-]`, 1 to 64 bytes. */
export const CIRCUIT_NAME = OPERATOR_NAME;

const STAGE_FIELDS = new Set(["operator", "in", "out"]);
const BUILTIN_FIELDS = new Set(["builtin", "config", "card", "limits", "instances"]);

function bad(message: string): BusError {
  return new BusError("INVALID_ARGUMENT", message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The stage's label in messages: `stage 1 ("features")`. */
export function stageLabel(spec: CircuitSpec, i: number): string {
  const op = spec.stages[i].operator;
  return `stage ${i} (${JSON.stringify(typeof op === "string" ? op : op.builtin)})`;
}

function parseOperator(v: unknown, at: string): string | BuiltinStage {
  if (typeof v === "string") {
    if (!OPERATOR_NAME.test(v)) throw bad(`${at}: operator names match [a-z0-9_-]{1,64}`);
    return v;
  }
  if (!isObject(v)) throw bad(`${at}: an operator name or {"builtin", "config", ...}`);
  for (const k of Object.keys(v)) {
    if (!BUILTIN_FIELDS.has(k)) throw bad(`${at}: unknown field "${k}"`);
  }
  if (typeof v.builtin !== "string" || !OPERATOR_NAME.test(v.builtin)) {
    throw bad(`${at}.builtin must name a shipped operator`);
  }
  if (v.config !== undefined && !isObject(v.config)) {
    throw bad(`${at}.config must be a JSON object`);
  }
  return v as unknown as BuiltinStage;
}

/**
 * Checks a parsed circuit body; throws `BusError` `INVALID_ARGUMENT` naming the field at
 * fault, two stages writing one topic, or a cycle.
 *
 * @example
 * ```ts
 * import { parseCircuit } from "./spec.ts";
 *
 * parseCircuit({ stages: [{ operator: "double", in: "nums", out: "doubled" }] });
 * ```
 */
export function parseCircuit(value: unknown): CircuitSpec {
  if (!isObject(value)) throw bad("circuit: must be a JSON object");
  for (const k of Object.keys(value)) {
    if (k !== "stages") throw bad(`circuit: unknown field "${k}"`);
  }
  const stages = value.stages;
  if (!Array.isArray(stages) || stages.length === 0) {
    throw bad("stages must be a non-empty array");
  }
  if (stages.length > MAX_STAGES) {
    throw bad(`${stages.length} stages exceed the limit of ${MAX_STAGES}`);
  }
  const parsed: StageSpec[] = stages.map((s, i) => {
    const at = `stages[${i}]`;
    if (!isObject(s)) throw bad(`${at}: must be an object {"operator", "in", "out"}`);
    for (const k of Object.keys(s)) {
      if (!STAGE_FIELDS.has(k)) throw bad(`${at}: unknown field "${k}"`);
    }
    for (const k of ["in", "out"] as const) {
      const err = typeof s[k] === "string" ? topicError(s[k] as string) : "not a string";
      if (err) throw bad(`${at}.${k}: ${err} (a topic, no wildcards)`);
    }
    const operator = parseOperator(s.operator, `${at}.operator`);
    if (
      typeof operator !== "string" && typeof operator.config?.to === "string" &&
      operator.config.to !== s.out
    ) {
      throw bad(`${at}: config.to ${JSON.stringify(operator.config.to)} is not its out`);
    }
    return { operator, in: s.in as string, out: s.out as string };
  });
  const spec = { stages: parsed };
  const writer = new Map<string, number>();
  parsed.forEach((s, i) => {
    const other = writer.get(s.out);
    if (other !== undefined) {
      throw bad(
        `${stageLabel(spec, other)} and ${stageLabel(spec, i)} both write topic ${s.out}`,
      );
    }
    writer.set(s.out, i);
  });
  const cycle = findCycle(spec);
  if (cycle) {
    const path = cycle.map((i) => parsed[i].in).concat(parsed[cycle[0]].in).join(" -> ");
    throw bad(`the stages form a cycle: ${path} (${cycle.map((i) => `stage ${i}`).join(", ")})`);
  }
  return spec;
}

/** The hops of a checked circuit, entries first, then in stage order. */
export function hopsOf(spec: CircuitSpec): Hop[] {
  const writer = new Map(spec.stages.map((s, i) => [s.out, i]));
  return spec.stages.map((s, to) => ({ from: writer.get(s.in) ?? null, to, topic: s.in }))
    .sort((a, b) => (a.from === null ? -1 : a.from) - (b.from === null ? -1 : b.from));
}

/** A cycle of stages (each writes what the next reads), or undefined. */
function findCycle(spec: CircuitSpec): number[] | undefined {
  const readers = new Map<string, number[]>();
  spec.stages.forEach((s, i) => readers.set(s.in, [...(readers.get(s.in) ?? []), i]));
  const state = new Array<0 | 1 | 2>(spec.stages.length).fill(0);
  const path: number[] = [];
  const visit = (i: number): number[] | undefined => {
    state[i] = 1;
    path.push(i);
    for (const j of readers.get(spec.stages[i].out) ?? []) {
      if (state[j] === 1) return path.slice(path.indexOf(j));
      if (state[j] === 0) {
        const found = visit(j);
        if (found) return found;
      }
    }
    path.pop();
    state[i] = 2;
    return undefined;
  };
  for (let i = 0; i < spec.stages.length; i++) {
    if (state[i] === 0) {
      const found = visit(i);
      if (found) return found;
    }
  }
  return undefined;
}
