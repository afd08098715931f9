/**
 * The Shield's security options: what a node can be started with to authenticate
 * clients, terminate TLS, encrypt at rest and limit rates and quotas, each with a flag.
 * @module
 */
import type { Flag } from "../../config/mod.ts";

/** Security options of a node; every one has a flag (see `SECURITY_FLAGS`). */
export interface SecurityOptions {
  /**
   * Node key file or JWK Set whose keys verify bearer tokens; empty: no tokens.
   * @default {""}
   */
  authKey: string;
  /**
   * JSON file mapping `did:key`s to grants; empty: no DID authentication.
   * @default {""}
   */
  authDids: string;
  /**
   * PEM certificate chain; with `tlsKey`, the node listens TLS 1.3 only.
   * @default {""}
   */
  tlsCert: string;
  /**
   * PEM private key of `tlsCert`.
   * @default {""}
   */
  tlsKey: string;
  /**
   * Allow listening beyond loopback without TLS or auth (loudly).
   * @default {false}
   */
  insecure: boolean;
  /**
   * Key ring file for encryption at rest (else `ARQON_STORE_KEYS`/`ARQON_STORE_KEY`).
   * @default {""}
   */
  keyFile: string;
  /**
   * Pulses/s one connection may publish (0: unlimited).
   * @default {0}
   */
  ratePulses: number;
  /**
   * Payload bytes/s one connection may publish (0: unlimited).
   * @default {0}
   */
  rateBytes: number;
  /**
   * Pulses/s one reality accepts from all its publishers (0: unlimited).
   * @default {0}
   */
  realityRatePulses: number;
  /**
   * Payload bytes/s one reality accepts (0: unlimited).
   * @default {0}
   */
  realityRateBytes: number;
  /**
   * Connections one reality may have (0: unlimited).
   * @default {0}
   */
  realityMaxConnections: number;
  /**
   * Subscriptions one reality may have (0: unlimited).
   * @default {0}
   */
  realityMaxSubscriptions: number;
  /**
   * Payload bytes one reality may publish into the log (0: unlimited).
   * @default {0}
   */
  realityMaxStoredBytes: number;
  /**
   * Rate-limit refusals within one second after which a connection is closed (0: never).
   * @default {10000}
   */
  rateKick: number;
  /**
   * Seconds a client closed for abuse may not come back (by subject, or address beyond loopback; 0: no bans).
   * @default {10}
   */
  banSeconds: number;
  /**
   * HTTP clients (token subjects, DIDs or addresses) whose `--rate-pulses`/`--rate-bytes`
   * buckets the node tracks at once; beyond, the least recently seen is dropped.
   * @default {100000}
   */
  httpRateClients: number;
  /**
   * Serve `/metrics` without a token even when the node requires authentication.
   * @default {false}
   */
  metricsOpen: boolean;
  /**
   * Web origins (comma-separated `scheme://host[:port]`, `*` for any) whose pages may send
   * state-changing requests and open WebSockets, beside the node's own origin.
   */
  corsOrigin: string;
}

/** Defaults: no auth, no TLS, no limits beyond the node's frame limits. */
export const SECURITY_DEFAULTS: Readonly<SecurityOptions> = {
  authKey: "",
  authDids: "",
  tlsCert: "",
  tlsKey: "",
  insecure: false,
  keyFile: "",
  ratePulses: 0,
  rateBytes: 0,
  realityRatePulses: 0,
  realityRateBytes: 0,
  realityMaxConnections: 0,
  realityMaxSubscriptions: 0,
  realityMaxStoredBytes: 0,
  rateKick: 10_000,
  banSeconds: 10,
  httpRateClients: 100_000,
  metricsOpen: false,
  corsOrigin: "",
};

/** The security options as flags, in `--help` order; the node adds them to its table. */
export const SECURITY_FLAGS: readonly Flag<keyof SecurityOptions>[] = Object.freeze([
  {
    key: "authKey",
    flag: "auth-key",
    kind: "string",
    env: "ARQON_AUTH_KEY",
    help: "node key or JWK Set verifying bearer tokens (deno task token keygen)",
  },
  {
    key: "authDids",
    flag: "auth-dids",
    kind: "string",
    env: "ARQON_AUTH_DIDS",
    help: "JSON file of did:key grants",
  },
  {
    key: "tlsCert",
    flag: "tls-cert",
    kind: "string",
    env: "ARQON_TLS_CERT",
    help: "PEM certificate: serve TLS 1.3 only",
  },
  {
    key: "tlsKey",
    flag: "tls-key",
    kind: "string",
    env: "ARQON_TLS_KEY",
    help: "PEM private key of --tls-cert",
  },
  {
    key: "insecure",
    flag: "insecure",
    kind: "bool",
    help: "allow a non-loopback listener without TLS/auth",
  },
  {
    key: "keyFile",
    flag: "key-file",
    kind: "string",
    env: "ARQON_KEY_FILE",
    help: "key ring for encryption at rest (deno task token store-key init)",
  },
  {
    key: "ratePulses",
    flag: "rate-pulses",
    kind: "int",
    help: "pulses/s per connection (0: unlimited)",
  },
  {
    key: "rateBytes",
    flag: "rate-bytes",
    kind: "int",
    help: "payload bytes/s per connection (0: unlimited)",
  },
  {
    key: "realityRatePulses",
    flag: "reality-rate-pulses",
    kind: "int",
    help: "pulses/s per reality (0: unlimited)",
  },
  {
    key: "realityRateBytes",
    flag: "reality-rate-bytes",
    kind: "int",
    help: "payload bytes/s per reality (0: unlimited)",
  },
  {
    key: "realityMaxConnections",
    flag: "reality-max-connections",
    kind: "int",
    help: "connections per reality (0: unlimited)",
  },
  {
    key: "realityMaxSubscriptions",
    flag: "reality-max-subscriptions",
    kind: "int",
    help: "subscriptions per reality (0: unlimited)",
  },
  {
    key: "realityMaxStoredBytes",
    flag: "reality-max-stored-bytes",
    kind: "int",
    help: "payload bytes a reality may publish to the log (0: unlimited)",
  },
  {
    key: "rateKick",
    flag: "rate-kick",
    kind: "int",
    help: "rate-limit refusals per second after which a connection is closed (0: never)",
  },
  {
    key: "banSeconds",
    flag: "ban-seconds",
    kind: "int",
    help: "seconds a kicked client may not reconnect (by token subject or DID; by address " +
      "beyond loopback; 0: no bans)",
  },
  {
    key: "httpRateClients",
    flag: "http-rate-clients",
    kind: "int",
    help: "HTTP clients whose --rate-pulses/--rate-bytes buckets are tracked at once (LRU beyond)",
  },
  {
    key: "metricsOpen",
    flag: "metrics-open",
    kind: "bool",
    env: "ARQON_METRICS_OPEN",
    help: "serve /metrics without a token when auth is on (for scrapers that cannot send one)",
  },
  {
    key: "corsOrigin",
    flag: "cors-origin",
    kind: "string",
    env: "ARQON_CORS_ORIGIN",
    repeatable: true,
    help: "web origin (repeatable or comma-separated, * for any) whose pages may publish, " +
      "subscribe (SSE), fetch and open WebSockets, with CORS answers; other pages' are refused (403)",
  },
]);
