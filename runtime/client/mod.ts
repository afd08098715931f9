/**
 * The TypeScript client SDK for ArqonBus nodes: `ArqonClient.connect` opens a connection,
 * then `publish`, `subscribe`, `request`/`reply` and `history` use it.
 *
 * @example
 * ```ts ignore
 * import { ArqonClient } from "@arqon/bus/client";
 *
 * const client = await ArqonClient.connect("ws://127.0.0.1:7420/v1/ws");
 * for await (const pulse of client.subscribe("orders.>")) {
 *   console.log(pulse.topic, pulse.sequence);
 * }
 * ```
 * @module
 */
export { ArqonClient } from "./client.ts";
export type {
  ConnectOptions,
  HistoryOptions,
  PublishAck,
  PublishOptions,
  RequestOptions,
} from "./options.ts";
export { ClientSubscription, type SubscribeOptions } from "./subscription.ts";
