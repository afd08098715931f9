/**
 * What every command shares: the global options (`--server`, `--token`), connecting the
 * client, calling the HTTP API, printing pulses, and turning failures into exit codes.
 * @module
 */
import { base64 } from "@scure/base";
import { ArqonClient, BusError, type IPulse } from "../runtime/client/mod.ts";

/** The exit codes of `arqon` (documented in docs/cli.md). */
export const EXIT = {
  /** Done. */
  OK: 0,
  /** Bad command line. */
  USAGE: 1,
  /** The node refused: a typed error (code and message on stderr). */
  REFUSED: 2,
  /** The node could not be reached, or the connection was lost. */
  CONNECTION: 3,
  /** A request or wait timed out. */
  TIMEOUT: 4,
} as const;

/** A failure that ends the command with `exit` and prints `message` (no stack). */
export class CliError extends Error {
  /** Creates the error. */
  constructor(readonly exit: number, message: string) {
    super(message);
    this.name = "CliError";
  }
}

/** The global options every command receives. */
export interface GlobalOptions {
  /**
   * WebSocket URL of the node (`ws://host:port/v1/ws`); a bare `host:port` or an
   * `http(s)://` URL works too.
   * @default {"ws://127.0.0.1:7420/v1/ws"}
   */
  server: string;
  /**
   * Bearer token.
   * @default {""}
   */
  token: string;
}

/** The node's default address. */
export const DEFAULT_SERVER = "ws://127.0.0.1:7420/v1/ws";

/** Normalizes `--server` into the WebSocket URL and the HTTP base of the same node. */
export function endpoints(server: string): { ws: string; http: string } {
  let raw = server.trim() || DEFAULT_SERVER;
  if (!/^[a-z]+:\/\//i.test(raw)) raw = `ws://${raw}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(EXIT.USAGE, `--server: not a URL: ${server}`);
  }
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  if (!["ws:", "wss:", "http:", "https:"].includes(url.protocol)) {
    throw new CliError(EXIT.USAGE, `--server: use ws://, wss://, http:// or https:// (${server})`);
  }
  const path = url.pathname === "/" || url.pathname === "" ? "/v1/ws" : url.pathname;
  const host = url.host;
  return {
    ws: `${secure ? "wss" : "ws"}://${host}${path}${url.search}`,
    http: `${secure ? "https" : "http"}://${host}`,
  };
}

/** Connects the client without reconnecting: a CLI run reports a lost node instead. */
export async function connect(
  g: GlobalOptions,
  name = "arqon-cli",
  extra: { noDelay?: boolean } = {},
): Promise<ArqonClient> {
  const { ws } = endpoints(g.server);
  try {
    return await ArqonClient.connect(ws, {
      name,
      token: g.token || undefined,
      reconnect: false,
      noDelay: extra.noDelay ?? false,
      onError: (e) => console.error(`arqon: ${e.code}: ${e.message}`),
    });
  } catch (e) {
    // A refused hello is the node's typed answer; a socket that never opened is not.
    if (e instanceof BusError && !/^connection (closed|lost)/.test(e.message)) throw e;
    // The runtime's WebSocket says no more than "closed (0)" for a refused or unreachable port.
    const why = /^connection closed \(0 ?\)$/.test(messageOf(e))
      ? "nothing answered (refused or unreachable)"
      : messageOf(e);
    throw new CliError(EXIT.CONNECTION, `cannot connect to ${ws}: ${why}`);
  }
}

/** Calls the node's HTTP API; a typed error body becomes a `BusError`. */
export async function http(
  g: GlobalOptions,
  method: string,
  path: string,
  body?: BodyInit,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const url = `${endpoints(g.server).http}${path}`;
  const h = new Headers(headers);
  if (g.token) h.set("authorization", `Bearer ${g.token}`);
  let res: Response;
  try {
    res = await fetch(url, { method, body, headers: h });
  } catch (e) {
    throw new CliError(EXIT.CONNECTION, `cannot reach ${url}: ${messageOf(e)}`);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch { /* not JSON: keep the text */ }
  if (!res.ok) {
    const err = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    if (err?.code) throw new BusError(err.code as BusError["code"], err.message ?? "");
    throw new CliError(EXIT.REFUSED, `${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  }
  return parsed;
}

/** Prints a JSON value, pretty, on stdout. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The payload as text when it is valid UTF-8, else undefined. */
function textOf(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * A pulse as one JSON object: `payload` is the text when the bytes are UTF-8, else
 * `payload_base64`; a JSON content type adds `data`, the parsed value.
 */
export function pulseJson(p: IPulse): Record<string, unknown> {
  const bytes = p.payload ?? new Uint8Array();
  const out: Record<string, unknown> = {
    topic: p.topic ?? "",
    reality: p.realityId || "default",
    sequence: Number(p.sequence ?? 0),
    id: p.id ?? "",
    time_ms: Number(p.timestamp?.wallMs ?? 0),
  };
  if (p.producerId) out.producer = p.producerId;
  if (p.contentType) out.content_type = p.contentType;
  if (p.headers && Object.keys(p.headers).length) out.headers = p.headers;
  const text = textOf(bytes);
  if (text === undefined) {
    out.payload_base64 = base64.encode(bytes); // spreading MBs into btoa's argument list overflows
  } else {
    out.payload = text;
    if (p.contentType?.includes("json")) {
      try {
        out.data = JSON.parse(text);
      } catch { /* the producer said JSON but sent something else: keep the text */ }
    }
  }
  return out;
}

/** A pulse as one readable line: `[seq] topic (reality) payload`. */
export function pulseLine(p: IPulse): string {
  const j = pulseJson(p);
  const body = j.payload ?? `<${(p.payload ?? []).length} bytes, base64 ${j.payload_base64}>`;
  const reality = j.reality === "default" ? "" : ` (${j.reality})`;
  return `[#${j.sequence}] ${j.topic}${reality}: ${body}`;
}

/** The message of any thrown value. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Maps a failure to its exit code, printing it on stderr (never a stack). */
export function report(e: unknown): number {
  if (e instanceof CliError) {
    console.error(`arqon: ${e.message}`);
    return e.exit;
  }
  if (e instanceof BusError) {
    console.error(`arqon: ${e.code}: ${e.message}`);
    if (e.code === "TIMEOUT") return EXIT.TIMEOUT;
    // The client reports a dropped connection as INTERNAL "connection lost".
    if (e.code === "INTERNAL" && e.message.startsWith("connection lost")) return EXIT.CONNECTION;
    return EXIT.REFUSED;
  }
  console.error(`arqon: ${messageOf(e)}`);
  return EXIT.CONNECTION;
}

/** Reads all of stdin. */
export async function readStdin(): Promise<Uint8Array> {
  return new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
}

/** Parses a positive integer option, or fails as a usage error. */
export function intOption(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new CliError(EXIT.USAGE, `${name}: expected an integer >= ${min}, got "${value}"`);
  }
  return n;
}

/** Parses a duration: `500ms`, `5s`, `2m` or a bare number of milliseconds. */
export function durationMs(name: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new CliError(EXIT.USAGE, `${name}: expected e.g. 500ms, 5s or 2m, got "${value}"`);
  const n = Number(m[1]);
  return Math.round(m[2] === "s" ? n * 1000 : m[2] === "m" ? n * 60_000 : n);
}

/** Parses `--from-time`: an ISO date, or milliseconds since the epoch, or `-5m` (ago). */
export function timeMs(value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  if (value.startsWith("-")) return Date.now() - durationMs("--from-time", value.slice(1));
  const t = Date.parse(value);
  if (Number.isNaN(t)) {
    throw new CliError(EXIT.USAGE, `--from-time: expected an ISO time, epoch ms or -5m`);
  }
  return t;
}

/** Parses repeated `k=v` headers. */
export function headersOf(list: string[] = []): Record<string, string> | undefined {
  if (list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf("=");
    if (i <= 0) throw new CliError(EXIT.USAGE, `--header: expected key=value, got "${kv}"`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Collects a repeatable option's values (commander's argParser). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
