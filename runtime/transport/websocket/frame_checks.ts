/**
 * Checks and helpers of the server connection's frame reader (`server_connection.ts`):
 * the protocol error that fails a connection with a close code, close-frame validation
 * (RFC 6455 §7.4) and the growth of a large frame's buffer.
 * @module
 */

/** Strict UTF-8 decoding of text messages and close reasons. */
export const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A violation of RFC 6455 by the peer: the connection is closed with `code`. */
export class ProtocolError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/**
 * Fails the connection on a close frame RFC 6455 §7.4 forbids: a 1-byte body (1002), a
 * status code no endpoint may send (1002), a reason that is not UTF-8 (1007).
 */
export function checkCloseBody(body: Uint8Array): void {
  if (body.length === 0) return;
  if (body.length === 1) throw new ProtocolError(1002, "close frame with a 1-byte body");
  const code = (body[0] << 8) | body[1];
  if (!validCloseCode(code)) throw new ProtocolError(1002, `invalid close code ${code}`);
  try {
    strictUtf8.decode(body.subarray(2));
  } catch {
    throw new ProtocolError(1007, "close reason is not valid UTF-8");
  }
}

/**
 * Whether a peer may send close code `code`: 1000-1003 and 1007-1014 (1004 is reserved;
 * 1005, 1006 and 1015 are never sent, only reported), or 3000-4999 (registered and
 * private use). 0-999, 1016-2999 and 5000 and up are not codes.
 */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/** A copy of `buf`'s first `used` bytes in a buffer twice as large, at most `max`. */
export function grow(buf: Uint8Array, used: number, max = Infinity): Uint8Array<ArrayBuffer> {
  const bigger = new Uint8Array(Math.max(used + 1, Math.min(buf.length * 2, max)));
  bigger.set(buf.subarray(0, used));
  return bigger;
}
