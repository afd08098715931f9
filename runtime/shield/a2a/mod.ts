/**
 * A2A 1.0 on the bus: agent cards, the JSON-RPC endpoint carried as bus requests on
 * `agent.<id>.a2a`, and the presence route.
 * @module
 */
export { A2aRoutes, type A2aRoutesOptions } from "./routes.ts";
export { A2A_DEFAULTS, A2A_FLAGS, type A2aOptions } from "./options.ts";
export { A2A_PROTOCOL_VERSION } from "./card.ts";
export { agentTopic, FINAL_HEADER, METHOD_HEADER } from "./bus_call.ts";
