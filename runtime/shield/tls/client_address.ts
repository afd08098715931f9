/**
 * The address of the client behind a connection: with TLS the node's plain listener only
 * sees the terminator's loopback socket, so the terminator's `peerAddrOf` names the real
 * client; without TLS the socket's own remote address is the client.
 * @module
 */

/** A TCP peer: host and port. */
export interface PeerAddress {
  readonly hostname: string;
  readonly port: number;
}

/** What the terminator offers to resolve piped connections (`TlsTerminator`). */
export interface PeerResolver {
  /**
   * The real client of the piped upstream connection whose local end is
   * `upstreamLocalHost:upstreamLocalPort`.
   */
  peerAddrOf(upstreamLocalPort: number, upstreamLocalHost?: string): PeerAddress | undefined;
}

/** `1.2.3.4` for an IPv4-mapped IPv6 host (`::ffff:1.2.3.4`), else the host unchanged. */
export function normalizeHost(hostname: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  return mapped ? mapped[1] : hostname;
}

/** `host:port`, with an IPv6 host in brackets (`[::1]:7420`). */
export function formatAddress(addr: PeerAddress): string {
  const host = normalizeHost(addr.hostname);
  return host.includes(":") ? `[${host}]:${addr.port}` : `${host}:${addr.port}`;
}

/** The host of a `host:port` address (`[v6]:port` gives the v6 host, without brackets). */
export function hostOf(address: string): string {
  if (address.startsWith("[")) return address.slice(1, address.indexOf("]"));
  const colon = address.lastIndexOf(":");
  return colon < 0 ? address : address.slice(0, colon);
}

/**
 * The client of a connection the node's listener accepted from `remote`: the terminator's
 * peer when `tls` piped it there, else `remote` itself (hosts normalized).
 */
export function clientAddress(remote: Deno.Addr, tls?: PeerResolver | null): Deno.NetAddr {
  const net = remote as Deno.NetAddr;
  const piped = tls && net.port !== undefined
    ? tls.peerAddrOf(net.port, normalizeHost(net.hostname ?? ""))
    : undefined;
  const from = piped ?? net;
  return {
    transport: "tcp",
    hostname: normalizeHost(from.hostname ?? "?"),
    port: from.port ?? 0,
  };
}
