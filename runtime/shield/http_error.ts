/**
 * HTTP rendering of bus errors: the JSON body `{"error":{"code":"...","message":"..."}}`
 * every 4xx/5xx response of the node carries, with the status of the protocol's one
 * table (`httpStatusOf`).
 * @module
 */
import { BusError, type ErrorCodeName, httpStatusOf } from "../protocol/mod.ts";

/** A JSON error response; the status defaults to the code's (see `httpStatusOf`). */
export function errorResponse(
  code: ErrorCodeName,
  message: string,
  status: number = httpStatusOf(code),
): Response {
  return Response.json({ error: { code, message } }, { status });
}

/** Any thrown value as a `BusError` (what is not one is an `INTERNAL` error). */
export function asBusError(err: unknown): BusError {
  return err instanceof BusError ? err : new BusError("INTERNAL", String(err));
}
