/**
 * The proxy's options: one table of flags ({@linkcode PROXY_FLAGS}) from which the
 * command line, the environment and `--help` are served, and their checks. Bad values
 * are refused with an `INVALID_ARGUMENT` error naming the flag, before anything connects.
 * @module
 */
import { parseArgs } from "node:util";
import type { Flag } from "../config/mod.ts";
import { BusError, patternError, realityError } from "../protocol/mod.ts";

/** What a proxy needs to run; {@linkcode parseProxyArgs} builds it from a command line. */
export interface ProxyOptions {
  /** The node's WebSocket URL, e.g. `ws://127.0.0.1:7420/v1/ws`. */
  bus: string;
  /**
   * Base URL of the HTTP service requests on `serve` are sent to; empty with no `serve`.
   * @default {""}
   */
  upstream: string;
  /**
   * The topic pattern served, ending in `>` (e.g. `svc.billing.>`); empty serves nothing.
   * @default {""}
   */
  serve: string;
  /**
   * `host:port` of the HTTP listener (HTTP clients to the bus, and `/metrics`); empty for none.
   * @default {""}
   */
  listen: string;
  /**
   * Bearer token for nodes that require authentication.
   * @default {""}
   */
  token: string;
  /**
   * The reality served and requested in.
   * @default {"default"}
   */
  reality: string;
  /**
   * Client name (the producer id of the proxy's replies).
   * @default {"proxy"}
   */
  name: string;
  /**
   * Queue group of the served subscription, so several proxies share the load; empty
   * derives one from `serve` (proxies serving the same pattern share).
   * @default {""}
   */
  queueGroup: string;
  /**
   * Upstream calls in flight at once; more wait in the queue.
   * @default {64}
   */
  concurrency: number;
  /**
   * Bus requests waiting for a free upstream slot; past it they get a `busy` error reply.
   * @default {1024}
   */
  maxQueue: number;
  /**
   * Time an upstream call may take (headers and body), ms; past it a `upstream_timeout` reply.
   * @default {5000}
   */
  upstreamTimeoutMs: number;
  /**
   * Time an HTTP client's bus request waits for its reply, ms (node caps at 300000).
   * @default {5000}
   */
  requestTimeoutMs: number;
  /**
   * Largest body carried either way (upstream responses, HTTP request bodies), bytes.
   * Under the node's frame limit (1 MiB by default) so a reply always fits one frame.
   * @default {786432}
   */
  maxBodyBytes: number;
}

/** Defaults of every option but `bus`. */
export const PROXY_DEFAULTS: Readonly<Omit<ProxyOptions, "bus">> = Object.freeze({
  upstream: "",
  serve: "",
  listen: "",
  token: "",
  reality: "default",
  name: "proxy",
  queueGroup: "",
  concurrency: 64,
  maxQueue: 1024,
  upstreamTimeoutMs: 5000,
  requestTimeoutMs: 5000,
  maxBodyBytes: 786432,
});

/** The proxy's flags: the command line, `ARQON_PROXY_*` variables and `--help`. */
export const PROXY_FLAGS: readonly Flag<keyof ProxyOptions>[] = [
  {
    key: "bus",
    flag: "bus",
    kind: "string",
    env: "ARQON_PROXY_BUS",
    help: "node WebSocket URL (required), e.g. ws://127.0.0.1:7420/v1/ws",
  },
  {
    key: "upstream",
    flag: "upstream",
    kind: "string",
    env: "ARQON_PROXY_UPSTREAM",
    help: "HTTP service base URL requests on --serve go to, e.g. http://127.0.0.1:9000",
  },
  {
    key: "serve",
    flag: "serve",
    kind: "string",
    env: "ARQON_PROXY_SERVE",
    help: "topic pattern served, ending in '>', e.g. svc.billing.>",
  },
  {
    key: "listen",
    flag: "listen",
    kind: "string",
    env: "ARQON_PROXY_LISTEN",
    help: "host:port of the HTTP listener (HTTP clients to the bus, /metrics)",
  },
  {
    key: "token",
    flag: "token",
    kind: "string",
    env: "ARQON_PROXY_TOKEN",
    help: "bearer token for nodes that require authentication",
  },
  {
    key: "reality",
    flag: "reality",
    kind: "string",
    env: "ARQON_PROXY_REALITY",
    help: "reality served and requested in (default: default)",
  },
  {
    key: "name",
    flag: "name",
    kind: "string",
    env: "ARQON_PROXY_NAME",
    help: "client name, the producer id of replies (default: proxy)",
  },
  {
    key: "queueGroup",
    flag: "queue-group",
    kind: "string",
    env: "ARQON_PROXY_QUEUE_GROUP",
    help: "queue group shared by proxies serving the same pattern (default: derived from --serve)",
  },
  {
    key: "concurrency",
    flag: "concurrency",
    kind: "int",
    env: "ARQON_PROXY_CONCURRENCY",
    help: "upstream calls in flight at once (default: 64)",
  },
  {
    key: "maxQueue",
    flag: "max-queue",
    kind: "int",
    env: "ARQON_PROXY_MAX_QUEUE",
    help: "requests waiting for a slot before 'busy' replies (default: 1024)",
  },
  {
    key: "upstreamTimeoutMs",
    flag: "upstream-timeout-ms",
    kind: "int",
    env: "ARQON_PROXY_UPSTREAM_TIMEOUT_MS",
    help: "time an upstream call may take, ms (default: 5000)",
  },
  {
    key: "requestTimeoutMs",
    flag: "request-timeout-ms",
    kind: "int",
    env: "ARQON_PROXY_REQUEST_TIMEOUT_MS",
    help: "time an HTTP client's bus request waits, ms (default: 5000)",
  },
  {
    key: "maxBodyBytes",
    flag: "max-body-bytes",
    kind: "int",
    env: "ARQON_PROXY_MAX_BODY_BYTES",
    help: "largest body carried either way, bytes (default: 786432)",
  },
];

/**
 * The `--help` text of `deno task proxy`, from {@linkcode PROXY_FLAGS}.
 *
 * @example
 * ```ts
 * import { proxyUsage } from "./options.ts";
 * console.log(proxyUsage().includes("--serve")); // true
 * ```
 */
export function proxyUsage(): string {
  const rows = PROXY_FLAGS.map((f) => {
    const name = `  --${f.flag}${f.kind === "bool" ? "" : f.kind === "int" ? " <n>" : " <value>"}`;
    return `${name.padEnd(34)}${f.help}${f.env ? ` [${f.env}]` : ""}`;
  });
  return [
    "usage: deno task proxy --bus <ws-url> [--upstream <http-url> --serve <pattern.>] " +
    "[--listen <host:port>] [flags]",
    "",
    "Puts an HTTP service on the bus and lets HTTP clients reach bus agents:",
    "  bus -> HTTP   requests on <serve> become upstream calls: svc.billing.invoices.list ->",
    "                <upstream>/invoices/list (method from the 'http-method' header, POST by default)",
    "  HTTP -> bus   POST <listen>/svc/billing/charge -> request on svc.billing.charge",
    "  GET <listen>/metrics   Prometheus text",
    "",
    "flags:",
    ...rows,
    "  --help                          this text",
    "",
    "See docs/proxy.md.",
  ].join("\n");
}

/**
 * Parses a proxy command line (flags override `ARQON_PROXY_*` variables from `env`) and
 * checks it. Throws `BusError("INVALID_ARGUMENT")` naming the flag at fault.
 *
 * @example
 * ```ts
 * import { parseProxyArgs } from "./options.ts";
 *
 * const options = parseProxyArgs([
 *   "--bus", "ws://127.0.0.1:7420/v1/ws",
 *   "--upstream", "http://127.0.0.1:9000",
 *   "--serve", "svc.billing.>",
 * ]);
 * console.log(options.concurrency); // 64
 * ```
 */
export function parseProxyArgs(
  args: string[],
  env: Record<string, string | undefined> = {},
): ProxyOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(PROXY_FLAGS.map((f) => [f.flag, { type: "string" as const }])),
    }));
  } catch (err) {
    throw new BusError("INVALID_ARGUMENT", (err as Error).message);
  }
  const raw: Record<string, unknown> = { ...PROXY_DEFAULTS };
  for (const f of PROXY_FLAGS) {
    const text = (values[f.flag] as string | undefined) ?? (f.env ? env[f.env] : undefined);
    if (text === undefined) continue;
    raw[f.key] = f.kind === "int" ? intOf(f.flag, text) : text;
  }
  return checkProxyOptions(raw as Partial<ProxyOptions>);
}

function intOf(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) {
    throw new BusError(
      "INVALID_ARGUMENT",
      `--${flag} must be a non-negative integer, not '${text}'`,
    );
  }
  return n;
}

/**
 * Fills defaults into `options` and checks every value; throws
 * `BusError("INVALID_ARGUMENT")` naming the flag at fault.
 */
export function checkProxyOptions(options: Partial<ProxyOptions>): ProxyOptions {
  const o: ProxyOptions = { ...PROXY_DEFAULTS, bus: "", ...options };
  const bad = (flag: string, why: string): never => {
    throw new BusError("INVALID_ARGUMENT", `--${flag}: ${why}`);
  };
  if (!/^wss?:\/\/[^/]+/.test(o.bus)) {
    bad("bus", `a ws:// or wss:// URL is required, not '${o.bus}'`);
  }
  if (!o.serve && !o.listen) bad("serve", "give --serve (with --upstream), --listen, or both");
  if (o.serve) {
    const err = patternError(o.serve);
    if (err) bad("serve", err);
    if (!o.serve.endsWith(".>") || o.serve.slice(0, -2).includes("*")) {
      bad("serve", `the pattern must be a literal prefix ending in '.>', e.g. svc.billing.>`);
    }
    if (!o.upstream) bad("upstream", "required with --serve");
  }
  if (o.upstream) {
    let url: URL | undefined;
    try {
      url = new URL(o.upstream);
    } catch { /* refused below */ }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) {
      bad(
        "upstream",
        `an http:// or https:// base URL without query is required, not '${o.upstream}'`,
      );
    }
    if (!o.serve) bad("serve", "required with --upstream");
  }
  if (o.listen) {
    const m = o.listen.match(/^(.+):(\d{1,5})$/);
    if (!m || Number(m[2]) > 65535) bad("listen", `host:port expected, not '${o.listen}'`);
  }
  const realityWhy = realityError(o.reality);
  if (realityWhy) bad("reality", realityWhy);
  if (!o.queueGroup && o.serve) {
    o.queueGroup = `proxy_${o.serve.slice(0, -2).replaceAll(".", "_")}`.slice(0, 64);
  }
  if (o.queueGroup) {
    const why = realityError(o.queueGroup);
    if (why) bad("queue-group", why.replace("reality", "queue group"));
  }
  if (o.concurrency < 1) bad("concurrency", "at least 1");
  if (o.upstreamTimeoutMs < 1) bad("upstream-timeout-ms", "at least 1");
  if (o.requestTimeoutMs < 1 || o.requestTimeoutMs > 300_000) {
    bad("request-timeout-ms", "between 1 and 300000");
  }
  if (o.maxBodyBytes < 1) bad("max-body-bytes", "at least 1");
  return o;
}
