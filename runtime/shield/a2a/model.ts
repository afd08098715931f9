/**
 * The A2A 1.0 objects the endpoint reads and writes (ProtoJSON: camelCase fields, enum
 * names as strings; A2A 1.0 section 5.5): checks of what callers and agents send, and
 * the task states' classes.
 * @module
 */
import { badParams, RPC_ERRORS, RpcError } from "./rpc.ts";

/** A JSON object. */
export type Json = Record<string, unknown>;

/** `TaskState` names (A2A 1.0 `TaskState`). */
export const TASK_STATES = Object.freeze([
  "TASK_STATE_SUBMITTED",
  "TASK_STATE_WORKING",
  "TASK_STATE_COMPLETED",
  "TASK_STATE_FAILED",
  "TASK_STATE_CANCELED",
  "TASK_STATE_INPUT_REQUIRED",
  "TASK_STATE_REJECTED",
  "TASK_STATE_AUTH_REQUIRED",
]);

const TERMINAL = new Set([
  "TASK_STATE_COMPLETED",
  "TASK_STATE_FAILED",
  "TASK_STATE_CANCELED",
  "TASK_STATE_REJECTED",
]);
const INTERRUPTED = new Set(["TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED"]);

/** Whether a task in `state` is finished for good. */
export function isTerminal(state: string): boolean {
  return TERMINAL.has(state);
}

/** Whether a call ends at `state` (terminal, or waiting for the caller: interrupted). */
export function endsCall(state: string): boolean {
  return TERMINAL.has(state) || INTERRUPTED.has(state);
}

export const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const PART_CONTENT = ["text", "raw", "url", "data"] as const;

/** Checks a `Part`; returns what is wrong, or undefined. */
function partProblem(p: unknown): string | undefined {
  if (!isObject(p)) return "must be an object";
  const present = PART_CONTENT.filter((k) => p[k] !== undefined);
  if (present.length !== 1) return "must carry exactly one of text, raw, url, data";
  const k = present[0];
  if (k !== "data" && typeof p[k] !== "string") return `${k} must be a string`;
  for (const f of ["filename", "mediaType"]) {
    if (p[f] !== undefined && typeof p[f] !== "string") return `${f} must be a string`;
  }
  if (p.metadata !== undefined && !isObject(p.metadata)) return "metadata must be an object";
  return undefined;
}

/** Checks a `Message` (A2A 1.0 `Message`); returns what is wrong, or undefined. */
export function messageProblem(m: unknown): string | undefined {
  if (!isObject(m)) return "must be an object";
  if (typeof m.messageId !== "string" || m.messageId === "") {
    return "messageId must be a non-empty string";
  }
  if (m.role !== "ROLE_USER" && m.role !== "ROLE_AGENT") {
    return `role must be "ROLE_USER" or "ROLE_AGENT"`;
  }
  if (!Array.isArray(m.parts) || m.parts.length === 0) return "parts must be a non-empty array";
  for (let i = 0; i < m.parts.length; i++) {
    const problem = partProblem(m.parts[i]);
    if (problem) return `parts[${i}] ${problem}`;
  }
  for (const f of ["contextId", "taskId"]) {
    if (m[f] !== undefined && typeof m[f] !== "string") return `${f} must be a string`;
  }
  if (m.metadata !== undefined && !isObject(m.metadata)) return "metadata must be an object";
  return undefined;
}

/** What `SendMessage` / `SendStreamingMessage` carry, checked. */
export interface SendParams {
  /** The caller's message. */
  readonly message: Json;
  /** `configuration.returnImmediately`. */
  readonly returnImmediately: boolean;
  /** `configuration.historyLength`, when set. */
  readonly historyLength: number | undefined;
}

/** Checks `SendMessageRequest` params; throws `INVALID_PARAMS` naming the field. */
export function sendParams(params: Json): SendParams {
  const problem = messageProblem(params.message);
  if (problem) throw badParams("message", problem);
  const config = params.configuration;
  if (config !== undefined && !isObject(config)) {
    throw badParams("configuration", "must be an object");
  }
  const immediate = config?.returnImmediately;
  if (immediate !== undefined && typeof immediate !== "boolean") {
    throw badParams("configuration.returnImmediately", "must be a boolean");
  }
  return {
    message: params.message as Json,
    returnImmediately: immediate === true,
    historyLength: historyLength(config?.historyLength, "configuration.historyLength"),
  };
}

/** A `historyLength` field: absent, or an integer >= 0. */
export function historyLength(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw badParams(field, "must be an integer >= 0");
  }
  return v;
}

/** A task id param (`GetTask`, `CancelTask`). */
export function taskIdParam(params: Json): string {
  if (typeof params.id !== "string" || params.id === "") {
    throw badParams("id", "must be a non-empty string");
  }
  return params.id;
}

/** One reply of an agent, read as an A2A `StreamResponse` (or a bare `Message`). */
export type AgentEvent =
  | { readonly kind: "message"; readonly message: Json }
  | { readonly kind: "task"; readonly task: Json }
  | { readonly kind: "statusUpdate"; readonly status: Json }
  | {
    readonly kind: "artifactUpdate";
    readonly artifact: Json;
    readonly append: boolean;
    readonly lastChunk: boolean;
  };

function invalidReply(problem: string): RpcError {
  return new RpcError(
    RPC_ERRORS.INVALID_AGENT_RESPONSE,
    `the agent's reply is not an A2A response: ${problem}`,
    "INVALID_AGENT_RESPONSE",
  );
}

function statusProblem(s: unknown): string | undefined {
  if (!isObject(s)) return "status must be an object";
  if (typeof s.state !== "string" || !TASK_STATES.includes(s.state)) {
    return `status.state must be one of ${TASK_STATES.join(", ")}`;
  }
  if (s.message !== undefined) {
    const p = messageProblem(s.message);
    if (p) return `status.message ${p}`;
  }
  return undefined;
}

function artifactProblem(a: unknown): string | undefined {
  if (!isObject(a)) return "artifact must be an object";
  if (typeof a.artifactId !== "string" || a.artifactId === "") {
    return "artifact.artifactId must be a non-empty string";
  }
  if (!Array.isArray(a.parts) || a.parts.length === 0) {
    return "artifact.parts must be a non-empty array";
  }
  for (let i = 0; i < a.parts.length; i++) {
    const p = partProblem(a.parts[i]);
    if (p) return `artifact.parts[${i}] ${p}`;
  }
  return undefined;
}

/**
 * Reads an agent's reply payload: a JSON `StreamResponse` (`{"message"}`, `{"task"}`,
 * `{"statusUpdate"}`, `{"artifactUpdate"}`) or a bare `Message`. Throws
 * `INVALID_AGENT_RESPONSE` naming what is wrong.
 */
export function agentEvent(payload: Uint8Array | null | undefined): AgentEvent {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload ?? new Uint8Array()));
  } catch {
    throw invalidReply("not UTF-8 JSON");
  }
  if (!isObject(v)) throw invalidReply("not a JSON object");
  if (v.parts !== undefined) v = { message: v };
  const r = v as Json;
  const keys = ["message", "task", "statusUpdate", "artifactUpdate"].filter((k) =>
    r[k] !== undefined
  );
  if (keys.length !== 1) {
    throw invalidReply("expected exactly one of message, task, statusUpdate, artifactUpdate");
  }
  const [key] = keys;
  const body = r[key];
  if (key === "message") {
    const p = messageProblem(body);
    if (p) throw invalidReply(`message ${p}`);
    return { kind: "message", message: body as Json };
  }
  if (!isObject(body)) throw invalidReply(`${key} must be an object`);
  if (key === "task") {
    const p = statusProblem(body.status);
    if (p) throw invalidReply(`task.${p}`);
    if (body.artifacts !== undefined) {
      if (!Array.isArray(body.artifacts)) throw invalidReply("task.artifacts must be an array");
      for (const a of body.artifacts) {
        const q = artifactProblem(a);
        if (q) throw invalidReply(`task.${q}`);
      }
    }
    return { kind: "task", task: body };
  }
  if (key === "statusUpdate") {
    const p = statusProblem(body.status);
    if (p) throw invalidReply(`statusUpdate.${p}`);
    return { kind: "statusUpdate", status: body.status as Json };
  }
  const p = artifactProblem(body.artifact);
  if (p) throw invalidReply(`artifactUpdate.${p}`);
  return {
    kind: "artifactUpdate",
    artifact: body.artifact as Json,
    append: body.append === true,
    lastChunk: body.lastChunk === true,
  };
}
