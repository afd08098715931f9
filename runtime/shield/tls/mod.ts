/**
 * Transport security of the Shield: a TLS 1.3-only terminator in front of the node's
 * plain listener, and the guard that refuses to expose a node without TLS and auth.
 * @module
 */
export {
  clientAddress,
  formatAddress,
  hostOf,
  normalizeHost,
  type PeerAddress,
  type PeerResolver,
} from "./client_address.ts";
export {
  checkListenPlan,
  isLoopback,
  type ListenPlan,
  type ListenVerdict,
} from "./listen_guard.ts";
export {
  startTlsTerminator,
  type TlsTerminator,
  type TlsTerminatorOptions,
} from "./tls_terminator.ts";
