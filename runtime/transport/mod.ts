/**
 * Carriers of client connections: the `Transport` contract every carrier implements, and
 * the native ones behind Deno FFI (shared-memory rings, UDP) with their telemetry.
 * @module
 */
export type { EncodedMessage, Transport, TransportSession } from "./transport.ts";
export { type MemoryClose, MemoryTransport, type MemoryTransportOptions } from "./memory.ts";
export {
  acceptKey,
  readHttpHead,
  writeAll,
  WsServerConnection,
  type WsServerOptions,
} from "./websocket/mod.ts";
export {
  ABI_VERSION,
  loadNative,
  NATIVE_SYMBOLS,
  NativeError,
  type NativeLib,
  nativeLibraryPath,
} from "./native_lib.ts";
export { BATCH_BYTES, forEachFrame, PackedBatch } from "./frame_batch.ts";
export {
  NativeTransportError,
  ShmEndpoint,
  ShmListener,
  type ShmListenerOptions,
  type ShmStats,
} from "./shm.ts";
export { type AttachTransport, ShmServer, type ShmServerOptions } from "./shm_server.ts";
export { ShmClient, type ShmClientOptions } from "./shm_client.ts";
export { ShmWebSocket } from "./shm_websocket.ts";
export { UdpEndpoint, type UdpStats } from "./udp.ts";
export { batchMembers, splitBatch, UdpLink, type UdpLinkOptions } from "./udp_link.ts";
export { dpdkAvailable, DpdkEal, DpdkPort, type DpdkStats, testEalArgs } from "./dpdk.ts";
export { type NativeGaugeSource, NativeMetrics } from "./metrics.ts";
