/**
 * The agents of a node (SAM handshake): operators, registered by the operator host, and
 * connected clients that presented a card in their hello, keyed by producer id. The Spine
 * asks it about every publish: a producer without a card costs one `Map` lookup; one with
 * a card has its last activity stamped and, with an `output_schema`, its payload checked.
 * `GET /v1/realities/{r}/agents` lists it.
 * @module
 */
import client from "prom-client";
import { BusError, type IPulse } from "../protocol/mod.ts";
import type { NodeMetrics } from "../telemetry/mod.ts";
import type { AgentCard, CompiledCard } from "./card.ts";

/** Who an agent is. */
export type AgentKind = "operator" | "client";

/** One agent as `GET /v1/realities/{r}/agents` shows it. */
export interface AgentView {
  /** Operator name, or the client's producer id. */
  readonly name: string;
  /** The producer id its pulses carry (`operator:<name>` for operators). */
  readonly producer: string;
  /** Operator or client. */
  readonly kind: AgentKind;
  /** Its card's capabilities. */
  readonly capabilities: readonly string[];
  /** Operators: `running`, `quarantined` or `stopped`; clients: `connected`. */
  readonly status: string;
  /** Wall time of its last publish (0: none yet), ms since the epoch. */
  readonly last_activity_ms: number;
  /** Clients: live sessions presenting the card under this producer id. */
  readonly sessions?: number;
  /** Pulses refused by its schemas: outputs (`SCHEMA_VIOLATION`), inputs (operators). */
  readonly violations: { readonly output: number; readonly input: number };
  /** The card as presented (schemas included). */
  readonly card: AgentCard;
}

interface Agent {
  readonly name: string;
  readonly producer: string;
  readonly kind: AgentKind;
  readonly realities: readonly string[];
  readonly compiled: CompiledCard | undefined;
  readonly status: () => string;
  lastActivityMs: number;
  sessions: number;
  outputViolations: number;
  inputViolations: number;
}

/** The producer id prefix operators' outputs carry; clients cannot claim it with a card. */
export const OPERATOR_PRODUCER_PREFIX = "operator:";

const NO_CARD: AgentCard = Object.freeze({ capabilities: Object.freeze<string[]>([]) });

/** The agents of one node, across realities. */
export class AgentDirectory {
  readonly #byProducer = new Map<string, Agent>();
  /** Operator output payloads (by identity) that passed their card, not yet published. */
  readonly #passed = new WeakMap<Uint8Array, Agent>();
  readonly #violations: client.Counter<"reality" | "direction"> | undefined;

  /** A directory; its refusals are counted on the node's registry when `metrics` is given. */
  constructor(metrics?: NodeMetrics) {
    if (!metrics) return;
    const name = "arqon_schema_violations_total";
    this.#violations = (metrics.registry.getSingleMetric(name) as
      | client.Counter<"reality" | "direction">
      | undefined) ?? new client.Counter({
      name,
      help: "Pulses refused by a card's schema, per reality and direction (output, input).",
      labelNames: ["reality", "direction"],
      registers: [metrics.registry],
    });
  }

  /**
   * Told when an operator is registered (true) or removed (false): presence lists
   * operators from here.
   */
  onOperator:
    | ((
      name: string,
      reality: string,
      capabilities: readonly string[],
      registered: boolean,
    ) => void)
    | undefined;

  /** Agents registered. */
  get size(): number {
    return this.#byProducer.size;
  }

  /**
   * Called by the Spine for every publish, before the pulse is guarded and stamped:
   * stamps the producer's last activity and checks the payload against its
   * `output_schema`. Throws `BusError` `SCHEMA_VIOLATION` naming the path and keyword.
   * `realityId` is the checked reality (a metric label: never a client's unchecked text).
   */
  checkPublish(pulse: IPulse, producerId: string, realityId: string): void {
    const agent = this.#byProducer.get(producerId);
    if (agent === undefined) return;
    agent.lastActivityMs = Date.now();
    const check = agent.compiled?.output;
    if (check === undefined) return;
    const payload = pulse.payload;
    // An operator's runner checks all outputs of an input before publishing any: each is
    // checked once, not again at its publish.
    if (payload && this.#passed.get(payload) === agent) {
      this.#passed.delete(payload);
      return;
    }
    const problem = check(payload);
    if (problem === undefined) {
      if (payload && agent.kind === "operator") this.#passed.set(payload, agent);
      return;
    }
    agent.outputViolations++;
    this.#count(realityId, "output");
    throw new BusError(
      "SCHEMA_VIOLATION",
      `${pulse.topic}: the payload violates the card of ${producerId}: ${problem}`,
    );
  }

  /**
   * Whether an operator's input passes its card's `input_schema` (true without one). A
   * refusal is counted on the agent and in `arqon_schema_violations_total`.
   */
  admitInput(producerId: string, pulse: IPulse): boolean {
    const check = this.#byProducer.get(producerId)?.compiled?.input;
    if (check === undefined || check(pulse.payload) === undefined) return true;
    this.#byProducer.get(producerId)!.inputViolations++;
    this.#count(pulse.realityId || "default", "input");
    return false;
  }

  /**
   * Registers (or replaces) an operator as agent `operator:<name>` of its reality; its
   * status is asked at listing time.
   */
  registerOperator(
    name: string,
    reality: string,
    compiled: CompiledCard | undefined,
    status: () => string,
  ): void {
    const producer = OPERATOR_PRODUCER_PREFIX + name;
    const before = this.#byProducer.get(producer);
    this.#byProducer.set(producer, {
      name,
      producer,
      kind: "operator",
      realities: [reality],
      compiled,
      status,
      lastActivityMs: before?.kind === "operator" ? before.lastActivityMs : 0,
      sessions: 0,
      outputViolations: 0,
      inputViolations: 0,
    });
    this.onOperator?.(name, reality, compiled?.card.capabilities ?? [], true);
  }

  /** Removes an operator (deleted). */
  unregisterOperator(name: string): void {
    const producer = OPERATOR_PRODUCER_PREFIX + name;
    if (this.#byProducer.get(producer)?.kind !== "operator") return;
    this.#byProducer.delete(producer);
    this.onOperator?.(name, "", [], false);
  }

  /**
   * Registers a client session's card under its producer id; returns the release to call
   * when the session ends. Several sessions may share a producer id only with the same
   * card: another one is refused (`INVALID_ARGUMENT`), since the check applies to every
   * publish of that producer, HTTP included.
   */
  registerClient(producerId: string, compiled: CompiledCard): () => void {
    if (producerId.startsWith(OPERATOR_PRODUCER_PREFIX)) {
      throw new BusError(
        "INVALID_ARGUMENT",
        `card: producer ids starting with "${OPERATOR_PRODUCER_PREFIX}" belong to operators`,
      );
    }
    let agent = this.#byProducer.get(producerId);
    if (agent && agent.compiled?.digest !== compiled.digest) {
      throw new BusError(
        "INVALID_ARGUMENT",
        `card: producer ${producerId} is connected with another card; ` +
          "close that session or present the same card",
      );
    }
    if (!agent) {
      agent = {
        name: producerId,
        producer: producerId,
        kind: "client",
        realities: compiled.card.realities ?? ["default"],
        compiled,
        status: () => "connected",
        lastActivityMs: 0,
        sessions: 0,
        outputViolations: 0,
        inputViolations: 0,
      };
      this.#byProducer.set(producerId, agent);
    }
    agent.sessions++;
    const held = agent;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--held.sessions === 0 && this.#byProducer.get(producerId) === held) {
        this.#byProducer.delete(producerId);
      }
    };
  }

  /** The agents listed in `reality`: operators first, then clients, each by name. */
  list(reality: string): AgentView[] {
    const out: AgentView[] = [];
    for (const a of this.#byProducer.values()) {
      if (!a.realities.includes(reality)) continue;
      const card = a.compiled?.card ?? NO_CARD;
      out.push({
        name: a.name,
        producer: a.producer,
        kind: a.kind,
        capabilities: card.capabilities,
        status: a.status(),
        last_activity_ms: a.lastActivityMs,
        ...(a.kind === "client" ? { sessions: a.sessions } : {}),
        violations: { output: a.outputViolations, input: a.inputViolations },
        card,
      });
    }
    return out.sort((x, y) =>
      x.kind !== y.kind ? (x.kind === "operator" ? -1 : 1) : x.name < y.name ? -1 : 1
    );
  }

  #count(reality: string, direction: "input" | "output"): void {
    this.#violations?.labels(reality, direction).inc();
  }
}
