/**
 * The proxy's lifecycle: connect to the node (retrying until it answers; the client
 * reconnects and resubscribes by itself afterwards), subscribe to the served pattern in
 * a queue group, open the HTTP listener, and close all of it.
 * @module
 */
import { ArqonClient, type ClientSubscription } from "../client/mod.ts";
import { BusError } from "../protocol/mod.ts";
import { Gate } from "./gate.ts";
import { ingressHandler } from "./ingress.ts";
import { ProxyMetrics } from "./metrics.ts";
import { checkProxyOptions, type ProxyOptions } from "./options.ts";
import { UpstreamServer } from "./serve.ts";

/** First delay between connection attempts at start, ms; doubles up to the max. */
const START_RETRY_MS = 100;
const START_RETRY_MAX_MS = 2000;

/** A running proxy. */
export interface ArqonProxy {
  /** `http://host:port` of the listener, empty without `listen`. */
  readonly listenUrl: string;
  /** Its metrics (also at `<listenUrl>/metrics`). */
  readonly metrics: ProxyMetrics;
  /** The options it runs with (defaults filled in). */
  readonly options: ProxyOptions;
  /** Stops serving and listening, and closes the bus connection. */
  close(): Promise<void>;
}

/**
 * Starts a proxy: resolves once it is connected to the node, subscribed to `serve` and
 * listening on `listen`. A node that is not up yet is retried (`onRetry` hears each
 * failure) until `signal` aborts. An unauthorized token rejects at once.
 *
 * @example
 * ```ts
 * import { startNode } from "@arqon/bus";
 * import { startProxy } from "./mod.ts";
 *
 * const node = await startNode({ port: 0, memory: true, log: "quiet" });
 * const upstream = Deno.serve({ port: 0, onListen() {} }, (req) =>
 *   Response.json({ path: new URL(req.url).pathname }));
 * const proxy = await startProxy({
 *   bus: node.wsUrl,
 *   upstream: `http://127.0.0.1:${upstream.addr.port}`,
 *   serve: "svc.billing.>",
 *   listen: "127.0.0.1:0",
 * });
 * const res = await fetch(`${proxy.listenUrl}/svc/billing/invoices/list`, { method: "POST" });
 * console.log(await res.json()); // { path: "/invoices/list" }
 * await proxy.close();
 * await upstream.shutdown();
 * await node.shutdown();
 * ```
 */
export async function startProxy(
  input: Partial<ProxyOptions> & { bus: string },
  hooks: { onRetry?: (error: Error) => void; signal?: AbortSignal } = {},
): Promise<ArqonProxy> {
  const options = checkProxyOptions(input);
  const gate = new Gate(options.concurrency, options.maxQueue);
  const held: { client?: ArqonClient } = {};
  const metrics = new ProxyMetrics(() => ({
    inFlight: gate.running,
    queued: gate.waiting,
    connected: held.client?.isConnected ?? false,
    reconnects: held.client?.reconnects ?? 0,
  }));
  // Node errors that answer no call: mostly a reply refused because its requester gave up
  // (FORBIDDEN: the inbox is closed) before the upstream answered.
  const client = held.client = await connect(
    options,
    hooks,
    (error) => metrics.busErrors.labels(error.code).inc(),
  );
  let sub: ClientSubscription | undefined;
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  try {
    if (options.serve) {
      const upstream = new UpstreamServer(client, options, gate, metrics);
      sub = client.subscribe(options.serve, {
        reality: options.reality,
        queueGroup: options.queueGroup,
        onPulse: upstream.onPulse,
      });
      await sub.ready;
    }
    if (options.listen) {
      const at = options.listen.lastIndexOf(":");
      const listening = Promise.withResolvers<void>();
      server = Deno.serve({
        hostname: options.listen.slice(0, at).replace(/^\[|\]$/g, ""),
        port: Number(options.listen.slice(at + 1)),
        onListen: () => listening.resolve(),
        onError: (err) =>
          Response.json({ error: { code: "INTERNAL", message: String(err) } }, { status: 500 }),
      }, ingressHandler(client, options, metrics));
      await listening.promise;
    }
  } catch (err) {
    sub?.close();
    await client.close();
    throw err;
  }
  const addr = server?.addr;
  const host = addr?.hostname.includes(":") ? `[${addr.hostname}]` : addr?.hostname;
  return {
    listenUrl: addr ? `http://${host}:${addr.port}` : "",
    metrics,
    options,
    async close() {
      await server?.shutdown();
      sub?.close();
      await client.close();
    },
  };
}

/** The first connection, retried with backoff while the node is not reachable. */
async function connect(
  options: ProxyOptions,
  hooks: { onRetry?: (error: Error) => void; signal?: AbortSignal },
  onError: (error: BusError) => void,
): Promise<ArqonClient> {
  let delay = START_RETRY_MS;
  while (true) {
    hooks.signal?.throwIfAborted();
    try {
      return await ArqonClient.connect(options.bus, {
        name: options.name,
        token: options.token || undefined,
        // Our TCP WebSocket with Nagle off: the runtime's leaves it on, which adds delayed-ACK
        // waits to every request/reply round trip.
        noDelay: options.bus.startsWith("ws://"),
        onError,
      });
    } catch (err) {
      // A refusal of the credentials will not change by retrying.
      if (err instanceof BusError && (err.code === "UNAUTHORIZED" || err.code === "FORBIDDEN")) {
        throw err;
      }
      hooks.onRetry?.(err as Error);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, START_RETRY_MAX_MS);
    }
  }
}
