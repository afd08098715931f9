/**
 * The body of `POST /v1/realities/{r}/fork`, checked: `{"name", "at": {"sequence"} |
 * {"time"}, "until": {...}, "params": {...}}`. Every problem is an `INVALID_ARGUMENT`.
 * @module
 */
import { BusError, realityError } from "../../runtime/protocol/mod.ts";

/** A point of a reality's log: a sequence, or an HLC wall time in ms. */
export type LogPoint = { readonly sequence: number } | { readonly time: number };

/** A checked fork request. */
export interface ForkRequest {
  readonly name: string;
  readonly at?: LogPoint;
  readonly until?: LogPoint;
  readonly params?: Readonly<Record<string, unknown>>;
}

/** Largest `params` accepted, as JSON bytes. */
export const MAX_PARAMS_BYTES = 64 << 10;

const bad = (message: string) => new BusError("INVALID_ARGUMENT", message);

function point(value: unknown, what: string): LogPoint | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw bad(`${what} must be {"sequence": n} or {"time": ms}`);
  }
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v);
  if (keys.length !== 1 || !(keys[0] === "sequence" || keys[0] === "time")) {
    throw bad(`${what} must be {"sequence": n} or {"time": ms}`);
  }
  const n = v[keys[0]];
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw bad(`${what}.${keys[0]} must be a non-negative integer`);
  }
  return keys[0] === "sequence" ? { sequence: n } : { time: n };
}

/** Parses a fork request body (text). */
export function parseForkRequest(text: string): ForkRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw bad('the body must be JSON: {"name", "at", "until", "params"}');
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw bad("the body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!["name", "at", "until", "params"].includes(k)) throw bad(`unknown field ${k}`);
  }
  const name = b.name;
  if (typeof name !== "string") throw bad("name must name the new reality");
  const err = realityError(name);
  if (err) throw bad(`name: ${err}`);
  const params = b.params;
  if (params !== undefined) {
    if (typeof params !== "object" || params === null || Array.isArray(params)) {
      throw bad("params must be a JSON object of control parameters");
    }
    if (new TextEncoder().encode(JSON.stringify(params)).length > MAX_PARAMS_BYTES) {
      throw bad(`params: more than ${MAX_PARAMS_BYTES} bytes as JSON`);
    }
  }
  return {
    name,
    at: point(b.at, "at"),
    until: point(b.until, "until"),
    params: params as Record<string, unknown> | undefined,
  };
}
