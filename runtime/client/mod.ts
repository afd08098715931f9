/**
 * The TypeScript client SDK for ArqonBus nodes.
 * @module
 */
export {
  ArqonClient,
  type ConnectOptions,
  type HistoryOptions,
  type PublishAck,
  type PublishOptions,
  type RequestOptions,
} from "./client.ts";
export { ClientSubscription, type SubscribeOptions } from "./subscription.ts";
