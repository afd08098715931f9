/**
 * The TypeScript client SDK for ArqonBus nodes: `ArqonClient.connect` opens a connection,
 * then `publish`, `subscribe`, `request`/`reply` and `history` use it.
 *
 * @example
 * ```ts
 * import { ArqonClient } from "@arqon/bus/client";
 * import { startNode } from "@arqon/bus";
 *
 * const node = await startNode({ port: 0, memory: true, log: "quiet" });
 * const client = await ArqonClient.connect(node.wsUrl);
 * const sub = client.subscribe("orders.>", { onPulse: (p) => console.log(p.topic) });
 * await sub.ready;
 * await client.publish("orders.created", JSON.stringify({ id: 1 }));
 * await client.flush(); // the node has processed the publish
 * sub.close();
 * await client.close();
 * await node.shutdown();
 * ```
 * @module
 */
export { ArqonClient } from "./client.ts";
export type {
  ClientCard,
  ConnectOptions,
  HistoryOptions,
  PublishAck,
  PublishOptions,
  RequestOptions,
} from "./options.ts";
export { ClientSubscription, type SubscribeOptions } from "./subscription.ts";
// What the client's API names, so `@arqon/bus/client` is complete on its own.
export {
  BusError,
  ErrorCode,
  type ErrorCodeName,
  type ErrorCodeValues,
  type IHlcTimestamp,
  type IPulse,
  type ISpectral,
  PulseView,
} from "../protocol/mod.ts";
/** The `random-u64` stream operators draw from (docs/time.md), for clients in lockstep. */
export { RandomU64 } from "../time/mod.ts";
export { type AgentIdentity, type DidAlgorithm, generateAgentIdentity } from "../identity/mod.ts";
