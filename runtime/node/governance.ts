/**
 * Shared governance of a cluster node: wires the node's local registries (CASIL policies,
 * control parameters, bans, token revocations) to the cluster's governance store
 * (`runtime/cluster/governance`). A change made on this node is written to the store
 * before it takes effect here (so an unreachable store refuses it with
 * `GOVERNANCE_UNAVAILABLE`, except bans, which hold locally whatever happens); a change
 * made elsewhere arrives by the store's watch and is applied here without being audited
 * again (the node that made it audited it).
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { AuditView, PolicyChange, PolicyEngine, PolicyRecord } from "../../casil/mod.ts";
import { ClusterAudit, GovernanceSync } from "../cluster/governance/mod.ts";
import { type NodeAccess, type Revocation, Revocations } from "../shield/auth/mod.ts";
import type { ControlParams, Spine } from "../spine/mod.ts";
import type { Logger } from "../telemetry/mod.ts";

/** What a node needs to join its cluster's governance. */
export interface GovernanceOptions {
  /** The node's NATS connection. */
  readonly nc: NatsConnection;
  /** The node's id. */
  readonly nodeId: string;
  /** Replicas of the governance bucket and object store. */
  readonly replicas?: number;
  /** Largest governance record (bytes of JSON). */
  readonly maxValueBytes?: number;
  /** Most records of one kind. */
  readonly maxKeysPerKind?: number;
  /** The node's log. */
  readonly logger: Logger;
}

/** A policy record as shared (the component travels apart, by digest). */
interface SharedPolicy {
  readonly record: PolicyRecord;
}

/** A parameter set as shared. */
interface SharedParams {
  readonly version: number;
  readonly params: Record<string, unknown>;
  readonly updatedMs: number;
}

/** The node's part of cluster governance: opened first, started once the registries exist. */
export class NodeGovernance {
  /** The shared store. */
  readonly sync: GovernanceSync;
  /** The cluster's one audit chain (every local audit entry is forwarded to it). */
  readonly audit: ClusterAudit;
  readonly #logger: Logger;

  private constructor(sync: GovernanceSync, audit: ClusterAudit, logger: Logger) {
    this.sync = sync;
    this.audit = audit;
    this.#logger = logger;
  }

  /** What `GET /v1/audit` and `/v1/audit/verify` serve on a cluster node: the cluster's chain. */
  get auditView(): AuditView {
    return this.audit;
  }

  /** Opens the shared store (bucket and object store created when missing). */
  static async open(options: GovernanceOptions): Promise<NodeGovernance> {
    const logger = options.logger;
    const sync = await GovernanceSync.open({
      nc: options.nc,
      nodeId: options.nodeId,
      replicas: options.replicas,
      maxValueBytes: options.maxValueBytes,
      maxKeysPerKind: options.maxKeysPerKind,
      onError: (change, err) =>
        logger.error("error", {
          what: "governance",
          kind: change.kind,
          name: change.name,
          origin: change.origin,
          error: err,
        }),
    });
    const audit = await ClusterAudit.open({
      nc: options.nc,
      nodeId: options.nodeId,
      replicas: options.replicas,
      onError: (err) => logger.warn("error", { what: "cluster audit", error: err }),
    });
    return new NodeGovernance(sync, audit, logger);
  }

  /** CASIL's `replicate` hook: the component by digest first, then the record. */
  replicatePolicy = async (change: PolicyChange): Promise<void> => {
    if (change.record === null) return await this.sync.delete("policy", change.name);
    if (change.component) await this.sync.putComponent(change.record.digest, change.component);
    await this.sync.put("policy", change.name, { record: change.record } satisfies SharedPolicy);
  };

  /**
   * Registers the handlers of every kind and loads the cluster's current state; resolves
   * once it is applied (the node listens only after that).
   */
  async start(parts: {
    policies: PolicyEngine;
    control: ControlParams;
    spine: Spine;
    access: NodeAccess;
  }): Promise<void> {
    const { policies, control, spine, access } = parts;
    const sync = this.sync;
    sync.on("policy", async (c) => {
      const shared = c.value as SharedPolicy | null;
      await policies.applyReplicated(
        c.name,
        shared?.record ?? null,
        (digest) => sync.component(digest),
      );
    });
    sync.on("params", (c) => {
      const shared = c.value as SharedParams | null;
      if (!shared) return;
      // Effective from this node's next pulse of the reality.
      const sequence = spine.hasReality(c.name) ? spine.reality(c.name).sequence + 1 : 0;
      control.applyReplicated(c.name, sequence, shared);
    });
    sync.on("ban", (c) => {
      const until = (c.value as { untilMs?: number } | null)?.untilMs;
      if (typeof until === "number") access.applyBan(c.name, until);
    });
    sync.on("revoke", (c) => access.applyRevocation(c.name, c.value as Revocation | null));
    // Local changes out. Parameters change in the publish path (synchronously): they are
    // written after the fact, a failure logged.
    control.listen((reality, set, replicated) => {
      if (replicated) return;
      const shared: SharedParams = {
        version: set.version,
        params: { ...set.params },
        updatedMs: set.updatedMs,
      };
      sync.put("params", reality, shared).catch((e) =>
        this.#logger.error("error", { what: "governance", kind: "params", reality, error: e })
      );
    });
    access.setReplicator({
      ban: (key, untilMs) => {
        sync.put("ban", key, { untilMs }).catch((e) =>
          this.#logger.warn("error", { what: "governance", kind: "ban", client: key, error: e })
        );
      },
      revoke: async (r) => {
        await sync.put("revoke", Revocations.keyOf(r), r);
      },
    });
    await sync.start();
  }

  /**
   * Writes the audit entries still queued (for at most `graceMs`), then stops following the
   * store (the NATS connection belongs to the node).
   */
  async close(graceMs = 2000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.audit.flush(),
      new Promise((r) => timer = setTimeout(r, graceMs)),
    ]);
    clearTimeout(timer);
    this.audit.close();
    this.sync.close();
  }
}
