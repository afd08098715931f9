/**
 * The native proxy: a sidecar that puts an existing HTTP service on the bus and lets HTTP
 * clients reach bus agents, with no change to either. Requests on `svc.billing.<path...>`
 * become upstream HTTP calls (`/path/...`), and `POST <listen>/svc/billing/charge` becomes
 * a bus request on `svc.billing.charge`. See `docs/proxy.md`; the command is
 * `deno task proxy` (scripts/proxy.ts).
 *
 * @example
 * ```ts
 * import { startProxy } from "./mod.ts";
 *
 * const proxy = await startProxy({
 *   bus: "ws://127.0.0.1:7420/v1/ws",
 *   upstream: "http://127.0.0.1:9000",
 *   serve: "svc.billing.>",
 *   listen: "127.0.0.1:7480",
 * });
 * console.log(`metrics at ${proxy.listenUrl}/metrics`);
 * await proxy.close();
 * ```
 * @module
 */
export { type ArqonProxy, startProxy } from "./proxy.ts";
export {
  checkProxyOptions,
  parseProxyArgs,
  PROXY_DEFAULTS,
  PROXY_FLAGS,
  type ProxyOptions,
  proxyUsage,
} from "./options.ts";
export { PROXY_ERRORS, ProxyError, type ProxyErrorKind } from "./errors.ts";
export {
  ERROR_HEADER,
  ERROR_KIND_HEADER,
  METHOD_HEADER,
  QUERY_HEADER,
  STATUS_HEADER,
} from "./mapping.ts";
export { type Direction, ProxyMetrics } from "./metrics.ts";
// What the proxy's API names, so this entry is complete on its own.
export type { Flag, FlagKind } from "../config/mod.ts";
export { BusError, ErrorCode, type ErrorCodeName, type ErrorCodeValues } from "../protocol/mod.ts";
