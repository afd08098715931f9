/**
 * The raw TCP listener's options, each with a flag (`TCP_FLAGS`), concatenated into the
 * node's flag table by `runtime/node/config.ts`.
 * @module
 */
import type { Flag } from "../../config/mod.ts";

/** How the raw TCP listener runs. */
export interface TcpOptions {
  /**
   * Port of the raw TCP listener on `--host` (length-prefixed protobuf frames; TLS 1.3
   * when the node has `--tls-cert`/`--tls-key`); 0 picks an ephemeral one; -1: none.
   * @default {-1}
   */
  tcpPort: number;
  /**
   * Seconds a frame may take to arrive whole once its first byte came; then the
   * connection gets TIMEOUT and is closed (a slowloris guard). 0: no limit.
   * @default {10}
   */
  tcpFrameTimeoutSeconds: number;
}

/** Defaults of {@linkcode TcpOptions}: no listener. */
export const TCP_DEFAULTS: Readonly<TcpOptions> = Object.freeze({
  tcpPort: -1,
  tcpFrameTimeoutSeconds: 10,
});

/** The TCP options as flags, in `--help` order. */
export const TCP_FLAGS: readonly Flag<keyof TcpOptions>[] = Object.freeze([
  {
    key: "tcpPort",
    flag: "tcp-port",
    kind: "int",
    env: "ARQON_TCP_PORT",
    help: "raw TCP listener port on --host: length-prefixed protobuf frames, TLS 1.3 with " +
      "--tls-cert (0: ephemeral; unset: no listener)",
  },
  {
    key: "tcpFrameTimeoutSeconds",
    flag: "tcp-frame-timeout",
    kind: "int",
    help: "seconds a TCP frame may take to arrive whole once begun (0: no limit)",
  },
]);
