/**
 * The WebSocket endpoint `/v1/ws`: subprotocol negotiation and the upgrade. It runs
 * ahead of the Hono app because `Deno.upgradeWebSocket` requires its own response
 * object to be returned unchanged to `Deno.serve`.
 * @module
 */
import { SUBPROTOCOL_JSON, SUBPROTOCOL_PROTO } from "../protocol/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { Transport, TransportSession } from "../transport/mod.ts";
import { errorResponse } from "./http_error.ts";
import type { WireFormat } from "./session.ts";
import { formatAddress } from "./tls/mod.ts";
import { WebSocketTransport } from "./ws_transport.ts";
import { type OriginPolicy, refuseUpgradeOrigin } from "./origin_guard.ts";

/** Path of the WebSocket endpoint. */
export const WS_PATH = "/v1/ws";

/** What the endpoint needs from its node. */
export interface WsEndpointContext {
  /** Counts refused upgrades. */
  readonly metrics: Pick<NodeMetrics, "errors">;
  /** Seconds of silence before the endpoint pings and then drops a socket. */
  readonly idleTimeoutSeconds: number;
  /** True once shutdown began: upgrades are refused. */
  readonly draining: () => boolean;
  /** Pages allowed to open WebSockets (`--cors-origin`); absent: any. */
  readonly origins?: OriginPolicy;
  /** Starts a session on an upgraded socket. */
  attach(transport: Transport, format: WireFormat): TransportSession;
}

/**
 * Decides an upgrade request: the subprotocol to speak, or the JSON error to answer with
 * (draining node, no upgrade, no subprotocol of ours). Both WebSocket engines use it.
 */
export function negotiateUpgrade(
  ctx: Pick<WsEndpointContext, "metrics" | "draining" | "origins">,
  headers: Headers,
): { protocol: string } | Response {
  if (ctx.draining()) return errorResponse("SHUTTING_DOWN", "the node is shutting down");
  const foreign = refuseUpgradeOrigin(ctx.origins, headers);
  if (foreign) {
    ctx.metrics.errors.labels("ws", "FORBIDDEN").inc();
    return foreign;
  }
  if ((headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
    return errorResponse("PROTOCOL_VIOLATION", "this endpoint expects a WebSocket upgrade", 426);
  }
  const offered = (headers.get("sec-websocket-protocol") ?? "").split(",").map((s) => s.trim());
  const protocol = offered.includes(SUBPROTOCOL_PROTO)
    ? SUBPROTOCOL_PROTO
    : offered.includes(SUBPROTOCOL_JSON)
    ? SUBPROTOCOL_JSON
    : null;
  if (!protocol) {
    ctx.metrics.errors.labels("ws", "UNSUPPORTED_SUBPROTOCOL").inc();
    return errorResponse(
      "UNSUPPORTED_SUBPROTOCOL",
      `offer subprotocol ${SUBPROTOCOL_PROTO} or ${SUBPROTOCOL_JSON}`,
    );
  }
  return { protocol };
}

/** The wire format a negotiated subprotocol stands for. */
export function formatOf(protocol: string): WireFormat {
  return protocol === SUBPROTOCOL_PROTO ? "proto" : "json";
}

/**
 * Upgrades a request with Deno's built-in WebSocket (`--ws-engine deno`), or answers with
 * a JSON error. `remote` is the real client (behind TLS: the terminator's peer); it
 * becomes the transport's `remote`.
 */
export function acceptWebSocket(
  ctx: WsEndpointContext,
  req: Request,
  remote: Deno.NetAddr | undefined,
): Response {
  const verdict = negotiateUpgrade(ctx, req.headers);
  if (verdict instanceof Response) return verdict;
  const { protocol } = verdict;
  const { socket, response } = Deno.upgradeWebSocket(req, {
    protocol,
    idleTimeout: ctx.idleTimeoutSeconds,
  });
  socket.binaryType = "arraybuffer";
  const transport = new WebSocketTransport(
    socket,
    remote ? formatAddress(remote) : "?",
  );
  let session: TransportSession | null = null;
  socket.onopen = () => {
    session = ctx.attach(transport, formatOf(protocol));
  };
  socket.onmessage = (e) => {
    session?.receive(e.data instanceof ArrayBuffer ? new Uint8Array(e.data) : e.data);
  };
  socket.onclose = () => session?.closed();
  socket.onerror = () => session?.closed();
  return response;
}
