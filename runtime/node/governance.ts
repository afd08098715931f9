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
import {
  ClusterAudit,
  GovernanceSync,
  Leases,
  ReplicatedOperatorState,
} from "../cluster/governance/mod.ts";
import {
  type CircuitHost,
  inputGroup,
  type OperatorChange,
  type OperatorHost,
  type OperatorManifest,
} from "../../operators/mod.ts";
import { type NodeAccess, type Revocation, Revocations } from "../shield/auth/mod.ts";
import type { ControlParams, OperatorStateStore, Spine } from "../spine/mod.ts";
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
  /** Audit entries kept for the cluster's chain while NATS is away. */
  readonly auditMaxPending?: number;
  /** Counts a bound that refused or dropped something (`arqon_limit_hits_total`). */
  readonly onLimit?: (limit: string) => void;
  /** The node's log. */
  readonly logger: Logger;
  /** The node's operator state store (mirrored to the cluster). */
  readonly store: OperatorStateStore;
  /**
   * Life of an operator lease (ms): a dead holder's operators move after at most this
   * plus a renewal round (a third of it).
   * @default {3000}
   */
  readonly leaseTtlMs?: number;
  /** The node's fabric: an operator taken over reads its inputs again from its state on. */
  readonly fabric?: InputRewind;
}

/** Where a queue group's shared consumer starts again (`JetStreamFabric.rewindGroup`). */
export interface InputRewind {
  rewindGroup(realityId: string, group: string, pattern: string, fromSeq: number): Promise<void>;
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
  /** Operator leases: each operator runs on the one node holding its lease. */
  readonly leases: Leases;
  /** Operator state: the node's store, each commit mirrored to the cluster. */
  readonly operatorState: ReplicatedOperatorState;
  readonly #logger: Logger;
  readonly #fabric: InputRewind | undefined;
  #leaseTimer?: ReturnType<typeof setInterval>;
  #leaseRound: Promise<void> | null = null;

  private constructor(
    sync: GovernanceSync,
    audit: ClusterAudit,
    leases: Leases,
    operatorState: ReplicatedOperatorState,
    logger: Logger,
    fabric: InputRewind | undefined,
  ) {
    this.sync = sync;
    this.audit = audit;
    this.leases = leases;
    this.operatorState = operatorState;
    this.#logger = logger;
    this.#fabric = fabric;
  }

  /** What `GET /v1/audit` and `/v1/audit/verify` serve on a cluster node: the cluster's chain. */
  get auditView(): AuditView {
    return this.audit;
  }

  /** Opens the shared store (bucket and object store created when missing). */
  static async open(options: GovernanceOptions): Promise<NodeGovernance> {
    const logger = options.logger;
    for (
      const [flag, value] of [
        ["--cluster-governance-max-keys", options.maxKeysPerKind],
        ["--cluster-governance-max-record-bytes", options.maxValueBytes],
        ["--cluster-audit-max-pending", options.auditMaxPending],
      ] as const
    ) {
      if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
        throw new Error(`${flag} must be a whole number from 1, not ${value}`);
      }
    }
    const sync = await GovernanceSync.open({
      nc: options.nc,
      nodeId: options.nodeId,
      replicas: options.replicas,
      maxValueBytes: options.maxValueBytes,
      maxKeysPerKind: options.maxKeysPerKind,
      onLimit: options.onLimit,
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
      maxPending: options.auditMaxPending,
      onDrop: () => options.onLimit?.("cluster_audit_pending"),
      onError: (err) => logger.warn("error", { what: "cluster audit", error: err }),
    });
    const leases = await Leases.open({
      nc: options.nc,
      holder: sync.origin,
      replicas: options.replicas,
      ttlMs: options.leaseTtlMs,
    });
    const operatorState = await ReplicatedOperatorState.open({
      nc: options.nc,
      local: options.store,
      replicas: options.replicas,
      onError: (operator, err) =>
        logger.warn("error", { what: "operator state mirror", operator, error: err }),
    });
    // Only the lease holder writes an operator's state to the cluster.
    operatorState.mayWrite = (name) => leases.holds(name);
    return new NodeGovernance(sync, audit, leases, operatorState, logger, options.fabric);
  }

  /** CASIL's `replicate` hook: the component by digest first, then the record. */
  replicatePolicy = async (change: PolicyChange): Promise<void> => {
    if (change.record === null) return await this.sync.delete("policy", change.name);
    const shared: SharedPolicy = { record: change.record };
    // Over a bound: refused before the component is stored.
    await this.sync.check("policy", change.name, shared);
    if (change.component) await this.sync.putComponent(change.record.digest, change.component);
    await this.sync.put("policy", change.name, shared);
  };

  /**
   * The operator host's `replicate` hook: the component by digest, then the manifest. A new
   * operator's lease is taken at once when free, so it starts on the node that installed it.
   */
  replicateOperator = async (change: OperatorChange): Promise<void> => {
    if (change.manifest === null) {
      await this.sync.delete("operator", change.name);
      await this.leases.release(change.name);
      return;
    }
    const shared = { manifest: change.manifest, digest: change.digest };
    // Over a bound: refused before the component is stored or the lease taken.
    await this.sync.check("operator", change.name, shared);
    await this.sync.putComponent(change.digest!, change.component!);
    await this.leases.acquire(change.name).catch(() => false);
    await this.sync.put("operator", change.name, shared);
  };

  /**
   * The operator host's `beforeRun` hook: the cluster's committed state, brought here, then
   * the operator's own input group rewound to the input after it. Inputs the node that
   * died held unacknowledged come again before the later ones (in order, as the state
   * expects), and inputs it handled after its last commit reached the cluster come again
   * too: their outputs derive the same ids, which the streams' duplicate window stores once.
   * A group the manifest shares with others is left as it is (rewinding it would hand its
   * other members pulses again), and so are the groups of an operator of several input
   * patterns: each pattern's consumer goes at its own pace, so the last input handled says
   * nothing of the others' (unacknowledged inputs come again after `ack_wait` instead).
   */
  beforeRun = async (name: string, manifest: OperatorManifest): Promise<void> => {
    const { reality } = manifest;
    const seq = await this.operatorState.restore(reality, name);
    const own = manifest.queue_group === undefined && manifest.inputs.length === 1;
    if (seq > 0 && own && this.#fabric) {
      const [pattern] = manifest.inputs;
      await this.#fabric.rewindGroup(reality, inputGroup(name, manifest), pattern, seq + 1);
    }
    this.#logger.info("operator.takeover", { operator: name, reality, fromSequence: seq + 1 });
  };

  /** The circuit host's `replicate` hook: a circuit's spec under `<reality>/<name>`. */
  replicateCircuit = async (reality: string, name: string, spec: unknown): Promise<void> => {
    if (spec === null) await this.sync.delete("circuit", `${reality}/${name}`);
    else await this.sync.put("circuit", `${reality}/${name}`, spec);
  };

  /** The operator host's `mayRun` hook: this node holds the operator's lease. */
  mayRun = (name: string): boolean => this.leases.holds(name);

  /**
   * One lease round: every operator meant to run takes or renews its lease and runs here
   * only while it holds it; a stopped or quarantined one gives its lease up.
   */
  async #leaseRoundOnce(operators: OperatorHost): Promise<void> {
    for (const op of operators.list()) {
      if (op.status === "running" || op.status === "standby") {
        let held = false;
        try {
          held = await this.leases.acquire(op.name);
        } catch (e) {
          if ((e as { code?: string }).code !== "LEASE_HELD") {
            this.#logger.warn("error", { what: "operator lease", operator: op.name, error: e });
          }
        }
        // Not provably held (lost, held elsewhere, NATS away): it must not run here.
        await operators.setActive(op.name, held);
      } else if (this.leases.holds(op.name)) {
        await this.leases.release(op.name);
      }
    }
  }

  /**
   * Registers the handlers of every kind and loads the cluster's current state; resolves
   * once it is applied (the node listens only after that).
   */
  async start(parts: {
    policies: PolicyEngine;
    control: ControlParams;
    spine: Spine;
    access: NodeAccess;
    operators: OperatorHost;
    circuits: CircuitHost;
  }): Promise<void> {
    const { policies, control, spine, access, operators, circuits } = parts;
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
    sync.on("operator", async (c) => {
      const shared = c.value as { manifest: Record<string, unknown>; digest: string } | null;
      await operators.applyReplicated(
        c.name,
        shared?.manifest ?? null,
        () => sync.component(shared!.digest),
      );
    });
    sync.on("circuit", async (c) => {
      const slash = c.name.indexOf("/");
      await circuits.applyReplicated(c.name.slice(0, slash), c.name.slice(slash + 1), c.value);
    });
    await sync.start();
    const round = () => {
      this.#leaseRound ??= this.#leaseRoundOnce(operators).finally(() => this.#leaseRound = null);
    };
    round();
    await this.#leaseRound;
    this.#leaseTimer = setInterval(round, Math.max(100, this.leases.ttlMs / 3));
  }

  /** Ends the lease rounds (a node shutting down stops its operators next). */
  async stopLeases(): Promise<void> {
    clearInterval(this.#leaseTimer);
    await this.#leaseRound;
  }

  /** Gives every lease up: the other nodes take these operators over at once. */
  async releaseLeases(): Promise<void> {
    await this.leases.releaseAll();
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
    await this.stopLeases();
    this.audit.close();
    this.sync.close();
  }
}
