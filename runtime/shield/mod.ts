/**
 * The Shield: the node's edge (HTTP/WebSocket server, sessions, limits) and its
 * composition root.
 * @module
 */
export { DEFAULT_CONFIG, helpText, NODE_FLAGS, type NodeConfig, parseConfig } from "./config.ts";
export { type ArqonNode, startNode } from "./node.ts";
export { Session, type WireFormat } from "./session.ts";
export { errorResponse, httpStatus } from "./http_error.ts";
