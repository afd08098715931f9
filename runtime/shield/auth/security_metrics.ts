/**
 * Prometheus metric families of the Shield's security (auth refusals, limits, kicks,
 * TLS handshakes), registered on the node's registry.
 * @module
 */
import client from "prom-client";

/** Metric families of the Shield's security. */
export class SecurityMetrics {
  readonly authRefusals: client.Counter<"transport" | "code">;
  readonly authenticated: client.Counter<"transport" | "method">;
  readonly rateLimited: client.Counter<"reality" | "scope" | "unit">;
  readonly quotaExceeded: client.Counter<"reality" | "kind">;
  readonly quotaUsage: client.Gauge<"reality" | "kind">;
  readonly kicks: client.Counter<"transport" | "reason">;
  readonly bans: client.Counter<"transport">;
  readonly tlsRefused: client.Counter;
  readonly httpRateClients: client.Gauge;
  readonly httpRateEvictions: client.Counter;

  /** Registers the families on `registry`. */
  constructor(registry: client.Registry) {
    const registers = [registry];
    this.tlsRefused = new client.Counter({
      name: "arqon_tls_handshake_failures_total",
      help: "TLS handshakes refused (TLS below 1.3, bad client hello, timeout).",
      registers,
    });
    this.bans = new client.Counter({
      name: "arqon_bans_total",
      help: "Clients kept out for --ban-seconds after the node closed them for abuse.",
      labelNames: ["transport"],
      registers: [registry],
    });
    this.kicks = new client.Counter({
      name: "arqon_kicks_total",
      help: "Connections closed by the node for abuse (e.g. sustained rate-limit violation).",
      labelNames: ["transport", "reason"],
      registers,
    });
    this.authRefusals = new client.Counter({
      name: "arqon_auth_refusals_total",
      help: "Connections and requests refused by authentication or authorization.",
      labelNames: ["transport", "code"],
      registers,
    });
    this.authenticated = new client.Counter({
      name: "arqon_auth_sessions_total",
      help: "Sessions authenticated, by method (token, did, open).",
      labelNames: ["transport", "method"],
      registers,
    });
    this.rateLimited = new client.Counter({
      name: "arqon_rate_limited_total",
      help: "Pulses refused by a rate limit, by reality, scope and unit.",
      labelNames: ["reality", "scope", "unit"],
      registers,
    });
    this.quotaExceeded = new client.Counter({
      name: "arqon_quota_exceeded_total",
      help: "Acquisitions refused by a reality quota.",
      labelNames: ["reality", "kind"],
      registers,
    });
    this.httpRateClients = new client.Gauge({
      name: "arqon_http_rate_clients",
      help: "HTTP clients (subjects, DIDs or addresses) whose publish rate buckets are tracked.",
      registers,
    });
    this.httpRateEvictions = new client.Counter({
      name: "arqon_http_rate_clients_evicted_total",
      help: "HTTP clients dropped from the rate table because it was full (--http-rate-clients).",
      registers,
    });
    this.quotaUsage = new client.Gauge({
      name: "arqon_quota_usage",
      help: "Current usage of reality quotas (connections, subscriptions, storedBytes).",
      labelNames: ["reality", "kind"],
      registers,
    });
  }
}
