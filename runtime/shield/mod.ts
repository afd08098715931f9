/**
 * The Shield: the node's edge (HTTP API, WebSocket endpoint and front door, sessions,
 * SSE) and the options it reads. The node (`runtime/node`) wires it.
 * @module
 */
export { type BodyLimitRoute, createHttpApp, type HttpApiOptions } from "./http.ts";
export { paramsRoutes } from "./params_routes.ts";
export { A2A_DEFAULTS, A2A_FLAGS, type A2aOptions } from "./a2a/mod.ts";
export {
  ConnectionGate,
  type ConnectionGateOptions,
  type ConnectionRefusal,
} from "./connection_limit.ts";
export type { HttpDeadlineOptions } from "./http_deadlines.ts";
export { MAX_HEAD_BYTES } from "./http_framing.ts";
export { asBusError, errorResponse } from "./http_error.ts";
export {
  type FrontDoor,
  type FrontDoorOptions,
  PEER_HEADER,
  peerFromHeaders,
  startFrontDoor,
  type UpgradeVerdict,
} from "./front_door.ts";
export {
  SHIELD_DEFAULTS,
  SHIELD_FLAGS,
  SHIELD_FLOW_FLAGS,
  SHIELD_LIMIT_FLAGS,
  type ShieldFlowOptions,
  type ShieldLimitOptions,
  type ShieldOptions,
} from "./options.ts";
export {
  originGuard,
  type OriginPolicy,
  originPolicy,
  originRefusal,
  refuseUpgradeOrigin,
} from "./origin_guard.ts";
export { Session, type WireFormat } from "./session.ts";
export { SESSION_DEFAULTS, type SessionOptions, sessionOptions } from "./session_options.ts";
export { type SseMetrics, SseSubscriber } from "./sse.ts";
export { type Resumable, StallWatch } from "./stall_watch.ts";
export {
  acceptWebSocket,
  formatOf,
  negotiateUpgrade,
  WS_PATH,
  type WsEndpointContext,
} from "./ws_endpoint.ts";
