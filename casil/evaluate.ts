/**
 * The publish hot path: one pulse through its policy chain. The first deny wins; a
 * redaction replaces the payload for the rest of the chain and for subscribers, and may
 * not make it larger than a publish could be. Fail-closed: a trap, fuel exhaustion, a
 * memory cap hit or an unloadable policy denies the pulse.
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import { SandboxTrapError } from "../runtime/sandbox/mod.ts";
import type { GuardVerdict } from "../runtime/spine/mod.ts";
import type { Installed } from "./chains.ts";
import type { CasilMetrics, DenialReason } from "./metrics.ts";
import type { PolicyInput, PolicyVerdict } from "./policy_world.ts";

const EMPTY = new Uint8Array(0);
const ALLOW: GuardVerdict = Object.freeze({ allow: true });
const NO_HEADERS: readonly (readonly [string, string])[] = Object.freeze([]);

/** A blank input, to be reused call after call (`inspect` is synchronous). */
export function blankInput(): PolicyInput {
  return {
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
}

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

/** Fills `input` from `pulse` (reality and topic already resolved). */
export function fillInput(
  input: PolicyInput,
  pulse: arqon.v1.IPulse,
  reality: string,
  topic: string,
): void {
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
}

/** What chain evaluation needs besides the chain and the input. */
export interface EvaluationContext {
  /** Where denials and restarts are counted. */
  readonly metrics: CasilMetrics;
  /** Largest payload a redaction may produce. */
  readonly maxPayloadBytes: number;
}

/** Counts a denial by `policy` and makes its verdict. */
export function deny(
  ctx: EvaluationContext,
  policy: string,
  reason: DenialReason,
  message: string,
): GuardVerdict {
  ctx.metrics.denials.labels(policy, reason).inc();
  return { allow: false, code: "POLICY_DENIED", reason: message };
}

/** The denial of a pulse whose policy `p` failed with `e` (counted as a restart). */
export function failed(ctx: EvaluationContext, p: Installed, e: unknown): GuardVerdict {
  const name = p.record.name;
  if (e instanceof SandboxTrapError) {
    ctx.metrics.instanceRestarts.labels(name).inc();
    // `unreachable` keeps the `trap` label it always had (the metric's values are fixed).
    const label = e.kind === "unreachable" ? "trap" : e.kind;
    return deny(ctx, name, label, `policy ${name} failed: ${e.message}`);
  }
  return deny(ctx, name, "trap", `policy ${name} failed: ${(e as Error).message}`);
}

/** The denial of a pulse whose policy is unavailable. */
export function unavailable(ctx: EvaluationContext, p: Installed): GuardVerdict {
  const name = p.record.name;
  return deny(ctx, name, "unavailable", `policy ${name} is unavailable (${p.problem})`);
}

/**
 * Applies policy `p`'s `verdict` to `input`: a denial (counted) to return, or null to go on
 * with the chain (a redaction replaced `input.payload`).
 */
export function apply(
  ctx: EvaluationContext,
  p: Installed,
  verdict: PolicyVerdict,
  input: PolicyInput,
): GuardVerdict | null {
  if (verdict.kind === "allow") return null;
  const name = p.record.name;
  if (verdict.kind === "deny") return deny(ctx, name, "denied", `${name}: ${verdict.reason}`);
  const size = verdict.payload.length;
  if (size > ctx.maxPayloadBytes) {
    return deny(
      ctx,
      name,
      "too_large",
      `policy ${name} failed: redacted payload of ${size} bytes exceeds the limit of ` +
        `${ctx.maxPayloadBytes} bytes`,
    );
  }
  p.stats.redactions++;
  input.payload = verdict.payload;
  return null;
}

/** Runs `chain` over `input` (whose payload a redaction replaces); the guard's verdict. */
export function evaluateChain(
  ctx: EvaluationContext,
  chain: readonly Installed[],
  input: PolicyInput,
): GuardVerdict {
  const original = input.payload;
  for (const p of chain) {
    if (!p.sandbox) return unavailable(ctx, p);
    p.stats.evaluations++;
    let verdict;
    try {
      verdict = p.sandbox.evaluate(input);
    } catch (e) {
      return failed(ctx, p, e);
    }
    const denied = apply(ctx, p, verdict, input);
    if (denied) return denied;
  }
  return input.payload !== original ? { allow: true, payload: input.payload } : ALLOW;
}
