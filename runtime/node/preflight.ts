/**
 * What a node checks before it opens anything: access (tokens, key files), the listen
 * plan (TLS, auth, `--insecure`), and the structured logger every later part writes to.
 * @module
 */
import { NodeAccess } from "../shield/auth/mod.ts";
import { checkListenPlan } from "../shield/tls/mod.ts";
import { Logger, type NodeMetrics } from "../telemetry/mod.ts";
import type { NodeConfig } from "./config.ts";

/** What the checks hand the rest of the start. */
export interface Preflight {
  /** Who may do what: tokens, keys, the audit of issues. */
  readonly access: NodeAccess;
  /** The structured log of connects, disconnects, errors, installs and kicks. */
  readonly logger: Logger;
  /** Whether the public port speaks TLS (`--tls-cert` and `--tls-key`). */
  readonly tlsOn: boolean;
}

/**
 * Security first: a bad key file or an unsafe listen plan stops the node (throws) before
 * it opens anything; warnings about a permissive plan are printed.
 */
export async function preflight(
  config: NodeConfig,
  nodeId: string,
  metrics: NodeMetrics,
): Promise<Preflight> {
  const access = await NodeAccess.create(config, nodeId, metrics.registry);
  const tlsOn = Boolean(config.tlsCert || config.tlsKey);
  if (tlsOn && !(config.tlsCert && config.tlsKey)) {
    throw new Error("--tls-cert and --tls-key go together");
  }
  const plan = checkListenPlan({
    hostname: config.host,
    tls: tlsOn,
    auth: access.required,
    insecure: config.insecure,
  });
  if (plan.error) throw new Error(plan.error);
  // MQTT has no TLS here yet: beside a TLS port, tokens in its passwords would travel in clear.
  if (config.mqttPort >= 0 && tlsOn && !config.insecure) {
    throw new Error("--mqtt-port speaks plain TCP: beside --tls-cert it needs --insecure");
  }
  // A cluster node shares a parameter set after it changed here (in the publish path): one
  // the governance bounds would refuse would hold on this node only. One set per reality,
  // one record each: the realities must fit the key bound, each set one record.
  if (config.cluster && config.maxRealities > config.clusterGovernanceMaxKeys) {
    throw new Error(
      `--max-realities ${config.maxRealities} needs --cluster-governance-max-keys of at least ` +
        `${config.maxRealities} (each reality's parameter set is one record)`,
    );
  }
  if (config.cluster && config.controlMaxBytes + 1024 > config.clusterGovernanceMaxRecordBytes) {
    throw new Error(
      `--control-max-bytes ${config.controlMaxBytes} needs --cluster-governance-max-record-bytes ` +
        `of at least ${config.controlMaxBytes + 1024} (a parameter set is one record)`,
    );
  }
  // The structured log of connects, disconnects, errors, installs and kicks;
  // `--log quiet` keeps only errors, as before.
  const logger = new Logger({
    logFormat: config.logFormat,
    logLevel: config.log === "quiet" ? "error" : config.logLevel,
  });
  access.setLogger(logger);
  for (const line of plan.warnings) {
    if (config.log !== "quiet" || config.insecure) console.warn(`arqon: ${line}`);
  }
  if (access.required && config.metricsOpen && config.log !== "quiet") {
    console.warn("arqon: /metrics is open (--metrics-open): it answers without a token");
  }
  return { access, logger, tlsOn };
}
