/**
 * An operator's manifest (the `manifest` part of `PUT /v1/operators/{name}`): where it runs,
 * what it consumes, its configuration and limits. Checked whole at publication, so a bad one
 * is a 4xx naming the field.
 * @module
 */
import { BusError, patternError, realityError } from "../runtime/protocol/mod.ts";
import { type AgentCard, compileCard } from "../runtime/spine/mod.ts";

/** Per-operator limits (each defaults to the node's). */
export interface ManifestLimits {
  /** Fuel per `handle` call. */
  readonly fuel?: number;
  /** Linear memory cap in 64 KiB pages. */
  readonly memory_pages?: number;
  /** Most output pulses per input pulse. */
  readonly max_outputs?: number;
  /** Most payload bytes of one output pulse. */
  readonly max_output_bytes?: number;
}

/**
 * The queue group operator `name`'s input subscriptions share: its manifest's, or its own
 * (`op-<name>`), which nothing but the operator's instances joins.
 */
export function inputGroup(name: string, manifest: OperatorManifest): string {
  return manifest.queue_group ?? `op-${name}`;
}

/** A checked manifest, as stored with the component. */
export interface OperatorManifest {
  /** The reality it consumes from and publishes to. */
  readonly reality: string;
  /** Topic patterns of its inputs. */
  readonly inputs: readonly string[];
  /** The queue group its input subscriptions share (default `op-<name>`). */
  readonly queue_group?: string;
  /**
   * Parallel instances sharing the inputs as one queue group (default 1, at most
   * `--operator-max-instances`). With more than one, the state is read-only to them.
   */
  readonly instances?: number;
  /** JSON handed to `init` (as text). */
  readonly config?: unknown;
  /** Limits. */
  readonly limits?: ManifestLimits;
  /**
   * The operator's card (SAM handshake): capabilities, `input_schema` (inputs that do not
   * match never reach `handle`), `output_schema` (outputs that do not match are refused
   * with `SCHEMA_VIOLATION`, a failure of that pulse).
   */
  readonly card?: AgentCard;
}

/** Names of operators: `[a-z0-9_-]`, 1 to 64 bytes. */
export const OPERATOR_NAME = /^[a-z0-9_-]{1,64}$/;

function bad(message: string): BusError {
  return new BusError("INVALID_ARGUMENT", `manifest: ${message}`);
}

function positiveInt(v: unknown, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    throw bad(`limits.${field} must be a positive integer`);
  }
  return v;
}

/** Checks and compiles (once per distinct card) an operator's card. */
function operatorCard(card: unknown): AgentCard {
  try {
    return compileCard(card, "operator").card;
  } catch (e) {
    throw e instanceof BusError ? bad(e.message) : e;
  }
}

/**
 * Checks a parsed manifest; throws `BusError` (`INVALID_ARGUMENT`) naming what is wrong.
 * `maxInstances` bounds `instances` (`--operator-max-instances`).
 */
export function parseManifest(value: unknown, maxInstances = 8): OperatorManifest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("must be a JSON object");
  }
  const m = value as Record<string, unknown>;
  const reality = m.reality ?? "default";
  if (typeof reality !== "string" || realityError(reality)) {
    throw bad(`reality ${JSON.stringify(reality)} is not a reality name`);
  }
  if (!Array.isArray(m.inputs) || m.inputs.length === 0) {
    throw bad("inputs must be a non-empty array of topic patterns");
  }
  for (const p of m.inputs) {
    const err = typeof p === "string" ? patternError(p) : "not a string";
    if (err) throw bad(`input pattern ${JSON.stringify(p)}: ${err}`);
  }
  if (m.queue_group !== undefined) {
    if (typeof m.queue_group !== "string" || realityError(m.queue_group)) {
      throw bad("queue_group must match [a-z0-9_-]+, at most 64 bytes");
    }
  }
  if (m.instances !== undefined) {
    const n = m.instances;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) {
      throw bad("instances must be a positive integer");
    }
    if (n > maxInstances) {
      throw bad(`instances ${n} exceeds --operator-max-instances (${maxInstances})`);
    }
  }
  const l = m.limits ?? {};
  if (typeof l !== "object" || l === null || Array.isArray(l)) {
    throw bad("limits must be an object");
  }
  const lr = l as Record<string, unknown>;
  const limits: ManifestLimits = {
    fuel: positiveInt(lr.fuel, "fuel"),
    memory_pages: positiveInt(lr.memory_pages, "memory_pages"),
    max_outputs: positiveInt(lr.max_outputs, "max_outputs"),
    max_output_bytes: positiveInt(lr.max_output_bytes, "max_output_bytes"),
  };
  if (m.config !== undefined && (typeof m.config !== "object" || m.config === null)) {
    throw bad("config must be a JSON object");
  }
  return {
    reality,
    inputs: m.inputs as string[],
    queue_group: m.queue_group as string | undefined,
    ...(m.instances !== undefined ? { instances: m.instances as number } : {}),
    config: m.config,
    limits,
    card: m.card === undefined ? undefined : operatorCard(m.card),
  };
}
