/**
 * The JSON-RPC 2.0 envelope of A2A 1.0's JSON-RPC binding (specification section 9): the
 * request shape, the error codes of sections 5.4 and 9.5, and error objects carrying a
 * `google.rpc.ErrorInfo` detail as the specification's examples show.
 * @module
 */

/** JSON-RPC 2.0 and A2A error codes (A2A 1.0 sections 5.4 and 9.5). */
export const RPC_ERRORS = Object.freeze({
  /** The body is not JSON. */
  PARSE_ERROR: -32700,
  /** The JSON is not a JSON-RPC 2.0 request object. */
  INVALID_REQUEST: -32600,
  /** No such method. */
  METHOD_NOT_FOUND: -32601,
  /** The method's params are wrong. */
  INVALID_PARAMS: -32602,
  /** The node failed (a bus error other than those below). */
  INTERNAL: -32603,
  /** `TaskNotFoundError`. */
  TASK_NOT_FOUND: -32001,
  /** `TaskNotCancelableError`. */
  TASK_NOT_CANCELABLE: -32002,
  /** `UnsupportedOperationError`: the agent is known but serves no A2A (no subscriber). */
  UNSUPPORTED_OPERATION: -32004,
  /** `InvalidAgentResponseError`: the agent's reply is not an A2A response. */
  INVALID_AGENT_RESPONSE: -32006,
  /** `VersionNotSupportedError`: the `A2A-Version` header names another major version. */
  VERSION_NOT_SUPPORTED: -32009,
});

/** The methods served (A2A 1.0 section 5.3); others answer `METHOD_NOT_FOUND`. */
export const METHODS = Object.freeze(
  ["SendMessage", "SendStreamingMessage", "GetTask", "CancelTask"] as const,
);

/** A served method name. */
export type A2aMethod = typeof METHODS[number];

/** A JSON-RPC request id: string, number or null. */
export type RpcId = string | number | null;

/** A checked JSON-RPC request. */
export interface RpcRequest {
  /** The id answers carry. */
  readonly id: RpcId;
  /** One of {@linkcode METHODS}. */
  readonly method: A2aMethod;
  /** The params object (`{}` when absent). */
  readonly params: Record<string, unknown>;
}

/** A JSON-RPC error as thrown inside the A2A handlers, rendered by {@linkcode rpcError}. */
export class RpcError extends Error {
  /** The JSON-RPC code. */
  readonly code: number;
  /** The `google.rpc.ErrorInfo` reason (e.g. `TASK_NOT_FOUND`). */
  readonly reason: string;

  /** An error with `code`, `message` and the ErrorInfo `reason`. */
  constructor(code: number, message: string, reason: string) {
    super(message);
    this.code = code;
    this.reason = reason;
  }
}

/** The JSON-RPC error response for `err` answering `id`. */
export function rpcError(id: RpcId, err: RpcError): Record<string, unknown> {
  return {
    jsonrpc: "2.0",
    id,
    error: {
      code: err.code,
      message: err.message,
      data: [{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: err.reason,
        domain: "arqonbus",
      }],
    },
  };
}

/** The JSON-RPC success response. */
export function rpcResult(id: RpcId, result: unknown): Record<string, unknown> {
  return { jsonrpc: "2.0", id, result };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses a body as a JSON-RPC 2.0 request for one of {@linkcode METHODS}. Throws
 * `RpcError` (`PARSE_ERROR`, `INVALID_REQUEST`, `METHOD_NOT_FOUND`, `INVALID_PARAMS`);
 * `idOf` gives the id to answer with when the body got that far.
 */
export function parseRequest(text: string): RpcRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RpcError(RPC_ERRORS.PARSE_ERROR, "Invalid JSON payload", "PARSE_ERROR");
  }
  if (!isObject(body)) {
    // Batches are JSON-RPC 2.0 but not part of A2A's binding (one call, one answer/stream).
    throw new RpcError(
      RPC_ERRORS.INVALID_REQUEST,
      Array.isArray(body)
        ? "batch requests are not supported: send one request object"
        : "the body must be a JSON-RPC 2.0 request object",
      "INVALID_REQUEST",
    );
  }
  const id = body.id;
  if (body.jsonrpc !== "2.0") invalid(`"jsonrpc" must be "2.0"`);
  if (id !== undefined && id !== null && typeof id !== "string" && typeof id !== "number") {
    invalid(`"id" must be a string, a number or null`);
  }
  if (typeof body.method !== "string") invalid(`"method" must be a string`);
  if (!(METHODS as readonly string[]).includes(body.method as string)) {
    throw new RpcError(
      RPC_ERRORS.METHOD_NOT_FOUND,
      `Method not found: ${JSON.stringify(String(body.method).slice(0, 64))} ` +
        `(served: ${METHODS.join(", ")})`,
      "METHOD_NOT_FOUND",
    );
  }
  if (body.params !== undefined && !isObject(body.params)) {
    throw new RpcError(RPC_ERRORS.INVALID_PARAMS, `"params" must be an object`, "INVALID_PARAMS");
  }
  return {
    id: (id ?? null) as RpcId,
    method: body.method as A2aMethod,
    params: (body.params ?? {}) as Record<string, unknown>,
  };
}

function invalid(message: string): never {
  throw new RpcError(RPC_ERRORS.INVALID_REQUEST, message, "INVALID_REQUEST");
}

/** The id of a body that failed to parse as a request, when it has a usable one. */
export function idOf(text: string): RpcId {
  try {
    const v = JSON.parse(text);
    const id = isObject(v) ? v.id : null;
    return typeof id === "string" || typeof id === "number" ? id : null;
  } catch {
    return null;
  }
}

/** An `INVALID_PARAMS` error naming `field`. */
export function badParams(field: string, problem: string): RpcError {
  return new RpcError(RPC_ERRORS.INVALID_PARAMS, `${field}: ${problem}`, "INVALID_PARAMS");
}
