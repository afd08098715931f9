/**
 * What the front door changes in the requests it relays to the node's HTTP listener on its
 * private socket: each request head carries the real client in `PEER_HEADER`, and any copy
 * the client sent is dropped. The pipe itself (framing, deadlines, upgrades) is
 * `http_pipe.ts`; responses flow back unchanged.
 * @module
 */
import { formatAddress, type PeerAddress } from "./tls/mod.ts";

/**
 * The header carrying the real client (`host:port`) of a request relayed to the HTTP
 * listener. Trusted only on that private socket; dropped from what clients send.
 */
export const PEER_HEADER = "x-arqon-peer";

const encoder = new TextEncoder();

/** The head as relayed: the client's `PEER_HEADER` dropped, the real client's added. */
export function relayedHead(lines: string[], client: PeerAddress): Uint8Array {
  const out = [lines[0]];
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(":");
    if (colon > 0 && lines[i].slice(0, colon).trim().toLowerCase() === PEER_HEADER) continue;
    out.push(lines[i]);
  }
  out.push(`${PEER_HEADER}: ${formatAddress(client)}`);
  return encoder.encode(out.join("\r\n") + "\r\n\r\n");
}
