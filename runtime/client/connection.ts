/**
 * One connection to a node: the socket for the URL (`dial.ts`), then the hello (answering
 * a DID challenge when the client has an identity) until the node's welcome. After the
 * welcome, frames go to the dispatcher; deliveries take the `scanFrames` fast path.
 * @module
 */
import { BusError, decodeFrame, errorCodeName, type IFrame, scanFrames } from "../protocol/mod.ts";
import { challengeAnswerFrame, helloFrame } from "./frames.ts";
import type { FrameDispatch } from "./dispatch.ts";
import type { ConnectOptions } from "./options.ts";

/** What the handshake reports to its client. */
export interface HandshakeEvents {
  /** The node welcomed the client with this session id (before `welcomed` resolves). */
  onWelcome(sessionId: string): void;
  /** A frame that cannot be decoded. */
  onError(error: BusError): void;
  /** The socket closed (after `welcomed` was rejected if it was still pending). */
  onClose(code: number, reason: string): void;
}

/**
 * Installs the socket's handlers: hello on open, the challenge answered, then every frame
 * to `dispatch`. The promise resolves at the welcome and rejects with the node's refusal
 * or when the socket closes first.
 */
export function handshake(
  ws: WebSocket,
  options: ConnectOptions,
  dispatch: FrameDispatch,
  events: HandshakeEvents,
): Promise<void> {
  const welcomed = Promise.withResolvers<void>();
  let welcome = false;
  ws.onopen = () => {
    ws.send(helloFrame(options));
  };
  ws.onmessage = (e) => {
    const bytes = e.data instanceof Uint8Array ? e.data : new Uint8Array(e.data as ArrayBuffer);
    // Deliveries take the fast path; other frames are decoded with protobufjs.
    if (welcome && scanFrames(bytes, dispatch.visitor)) return;
    let frame: IFrame;
    try {
      frame = decodeFrame(bytes);
    } catch (err) {
      events.onError(err as BusError);
      return;
    }
    if (!welcome && frame.kind === "welcome") {
      welcome = true;
      events.onWelcome(frame.welcome!.sessionId ?? "");
      welcomed.resolve();
      return;
    }
    const identity = options.identity;
    if (!welcome && frame.kind === "challenge" && identity) {
      const { nonce, nodeId } = frame.challenge!;
      ws.send(challengeAnswerFrame({ ...options, identity }, nodeId ?? "", nonce!));
      return;
    }
    if (!welcome && frame.kind === "error") {
      welcomed.reject(
        new BusError(errorCodeName(frame.error!.code ?? 0), frame.error!.message ?? ""),
      );
      return;
    }
    dispatch.handle(frame);
  };
  ws.onerror = () => {};
  ws.onclose = (e) => {
    welcomed.reject(new BusError("INTERNAL", `connection closed (${e.code} ${e.reason})`));
    events.onClose(e.code, e.reason);
  };
  return welcomed.promise;
}
