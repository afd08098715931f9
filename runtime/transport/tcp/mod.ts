/**
 * Raw TCP for any language: protobuf `Frame`s each preceded by its length (4 bytes, big
 * endian), on `--tcp-port`, optionally behind TLS 1.3. The framer is shared with clients.
 * @module
 */
export {
  FrameParser,
  FrameTooLargeError,
  LENGTH_BYTES,
  LENGTH_PREFIX,
  lengthPrefixed,
} from "./framer.ts";
export { tcpReadBuffersTaken, TcpServerConnection, type TcpServerOptions } from "./connection.ts";
export {
  startTcpListener,
  type TcpGate,
  type TcpListener,
  type TcpListenerOptions,
} from "./listener.ts";
export { TCP_DEFAULTS, TCP_FLAGS, type TcpOptions } from "./options.ts";
