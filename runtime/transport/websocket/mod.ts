/**
 * WebSocket over raw TCP: RFC 6455 framing shared by client and server, and the node's
 * server connection that reads on demand.
 * @module
 */
export {
  acceptKey,
  closeBody,
  type FrameHeader,
  frameHeader,
  headerLength,
  OP,
  parseHeader,
  readHttpHead,
  readMaskKey,
  writeAll,
  writeHeader,
  xorMask,
} from "./frame.ts";
export { WsServerConnection, type WsServerOptions } from "./server_connection.ts";
