/**
 * Operators answering requests. The operator world's pulse record carries no `reply_to`
 * (an operator never learns an inbox's name, so it cannot answer another request than its
 * own input's); instead an operator marks an output with header `arqon-reply` (`more` or
 * `final`, see `runtime/spine/reply_marks.ts`), and when the input being handled was a
 * request the runner also publishes that output, unchanged, to the input's inbox: a reply
 * the Spine streams to the requester (the last, `final`, ends a streamed request). Header
 * `arqon-error` on such an output makes it a typed error for the requester. An input the
 * operator's card refuses never reaches `handle`; when it was a request, its requester gets
 * a SCHEMA_VIOLATION error reply at once instead of waiting for its timeout (if the
 * operator's own output_schema admits the body `{"error": {"code", "message"}}`: the reply
 * is published as the operator's, under its card).
 * @module
 */
import type { arqon } from "../runtime/protocol/mod.ts";
import { ERROR_HEADER, REPLY_FINAL, REPLY_HEADER } from "../runtime/spine/mod.ts";

/** The reply copy of `output` (published by the operator for `input`), if it is one. */
export function replyCopy(
  input: arqon.v1.IPulse,
  output: arqon.v1.IPulse,
): arqon.v1.IPulse | undefined {
  const inbox = input.replyTo;
  if (!inbox || output.headers?.[REPLY_HEADER] === undefined) return undefined;
  return { ...output, topic: inbox };
}

/** The error reply to a request input the operator's card refused, if it was a request. */
export function refusalReply(
  input: arqon.v1.IPulse,
  operator: string,
): arqon.v1.IPulse | undefined {
  const inbox = input.replyTo;
  if (!inbox) return undefined;
  return {
    topic: inbox,
    realityId: input.realityId,
    headers: { [REPLY_HEADER]: REPLY_FINAL, [ERROR_HEADER]: "SCHEMA_VIOLATION" },
    contentType: "application/json",
    // The error body operators use (an output_schema may allow it, as nvm-job's does).
    payload: new TextEncoder().encode(JSON.stringify({
      error: {
        code: "SCHEMA_VIOLATION",
        message: `the payload does not match the input_schema of operator ${operator}`,
      },
    })),
  };
}
