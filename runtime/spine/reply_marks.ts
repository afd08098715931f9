/**
 * How a reply pulse says what it is, for plain and streamed requests alike:
 * - header `arqon-reply: more` marks a non-final reply; any other reply is final (a
 *   responder that knows nothing of streams answers once and ends the stream);
 * - header `arqon-error: <CODE>` (an `ErrorCode` name such as `INVALID_ARGUMENT`) turns the
 *   reply into a typed error for the requester, with the payload's text as its message (or,
 *   for a JSON payload `{"error": {"message"}}`, that message).
 * @module
 */
import { BusError, ErrorCode, type ErrorCodeName, type IPulse } from "../protocol/mod.ts";

/** The pulse header a responder marks a reply with: `more` (non-final) or `final`. */
export const REPLY_HEADER = "arqon-reply";
/** `REPLY_HEADER`'s value on a non-final reply. */
export const REPLY_MORE = "more";
/** `REPLY_HEADER`'s value on a final reply (the default when the header is absent). */
export const REPLY_FINAL = "final";
/** The pulse header that makes a reply a typed error: an `ErrorCode` name. */
export const ERROR_HEADER = "arqon-error";
/** Longest error message taken from an error reply's payload, in characters. */
const MAX_ERROR_MESSAGE = 1024;

/** Whether `reply` ends its request (every reply but one marked `arqon-reply: more`). */
export function isFinalReply(reply: IPulse): boolean {
  return reply.headers?.[REPLY_HEADER] !== REPLY_MORE;
}

/**
 * The typed error an `arqon-error` reply stands for, or undefined for an ordinary reply. An
 * unknown code name becomes `INTERNAL` (the responder failed in a way it could not name).
 */
export function replyError(reply: IPulse): BusError | undefined {
  const code = reply.headers?.[ERROR_HEADER];
  if (code === undefined) return undefined;
  const known = Object.hasOwn(ErrorCode, code) && code !== "UNSPECIFIED";
  let message = "";
  try {
    message = new TextDecoder("utf-8", { fatal: true }).decode(reply.payload ?? new Uint8Array());
  } catch {
    message = "(the responder's error message is not UTF-8)";
  }
  // A JSON body `{"error": {"message": ...}}` (an operator's typed output) gives its message.
  if (message.startsWith("{")) {
    try {
      const inner = JSON.parse(message)?.error?.message;
      if (typeof inner === "string") message = inner;
    } catch { /* plain text after all */ }
  }
  if (message.length > MAX_ERROR_MESSAGE) message = message.slice(0, MAX_ERROR_MESSAGE) + "…";
  return new BusError(
    known ? code as ErrorCodeName : "INTERNAL",
    known ? message : `responder error ${JSON.stringify(code.slice(0, 64))}: ${message}`,
  );
}
