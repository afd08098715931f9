/**
 * A2A 1.0 agent cards (specification section 8, `AgentCard` in `specification/a2a.proto`
 * at tag v1.0.1, serialized as ProtoJSON): the node's card at
 * `/.well-known/agent-card.json` and each agent's at `/v1/realities/{r}/agents/{id}/card`.
 * Skills come from the SAM cards of the agents and operators the node hosts.
 * @module
 */
import type { AgentView } from "../../spine/mod.ts";
import type { Json } from "./model.ts";

/** The A2A protocol version the node speaks. */
export const A2A_PROTOCOL_VERSION = "1.0";

/**
 * The node's version, which both cards carry: deno.json's `version` (a test keeps them
 * equal; the Shield may not import the root).
 */
export const NODE_VERSION = "0.2.0";

/** Media types the endpoint takes and gives (messages are JSON on the bus). */
const MODES = ["application/json", "text/plain"];

/** Card fields that depend on the node's auth. */
function security(authRequired: boolean): Json {
  if (!authRequired) return {};
  return {
    securitySchemes: {
      bearer: {
        httpAuthSecurityScheme: {
          scheme: "Bearer",
          bearerFormat: "JWT",
          description: "A token of the node (POST /v1/tokens, or DID sign-in at /v1/auth/did) " +
            "allowed to publish on agent.<id>.a2a",
        },
      },
    },
    securityRequirements: [{ schemes: { bearer: { list: [] } } }],
  };
}

/** An interface entry (`AgentInterface`). */
function jsonRpcAt(url: string, tenant?: string): Json {
  return {
    url,
    protocolBinding: "JSONRPC",
    protocolVersion: A2A_PROTOCOL_VERSION,
    ...(tenant ? { tenant } : {}),
  };
}

/** One skill per agent of a reality, named `<reality>/<agent>` (the node endpoint's tenant). */
function agentSkill(reality: string, a: AgentView): Json {
  const caps = a.capabilities.length > 0 ? [...a.capabilities] : [a.kind];
  return {
    id: `${reality}/${a.name}`,
    name: a.name,
    description: `${a.kind === "operator" ? "Operator" : "Agent"} ${a.name} of reality ` +
      `${reality}: ${caps.join(", ")}`,
    tags: caps,
    inputModes: ["application/json"],
    outputModes: ["application/json"],
  };
}

/** What the node's card is built from. */
export interface NodeCardInput {
  /** The node's public origin, e.g. `http://127.0.0.1:7420`. */
  readonly origin: string;
  /** The node's id. */
  readonly nodeId: string;
  /** Whether calls need a token. */
  readonly authRequired: boolean;
  /** The agents of each reality, as the SAM directory lists them. */
  readonly agents: readonly { reality: string; agents: readonly AgentView[] }[];
  /** Most skills listed (the card of a node with thousands of agents stays small). */
  readonly maxSkills: number;
}

/** The node's card: one JSON-RPC endpoint, agents chosen by `tenant` = `<reality>/<agent>`. */
export function nodeCard(input: NodeCardInput): Json {
  const skills: Json[] = [];
  let omitted = 0;
  for (const { reality, agents } of input.agents) {
    for (const a of agents) {
      if (skills.length < input.maxSkills) skills.push(agentSkill(reality, a));
      else omitted++;
    }
  }
  return {
    name: `ArqonBus node ${input.nodeId}`,
    description: "An ArqonBus message bus node. Every agent connected to it answers A2A " +
      "JSON-RPC calls, at /v1/realities/{reality}/agents/{agent}/a2a or here with " +
      'params.tenant = "<reality>/<agent>" (each skill\'s id).' +
      (omitted > 0 ? ` ${omitted} more agents are listed at /v1/realities/{reality}/agents.` : ""),
    supportedInterfaces: [jsonRpcAt(`${input.origin}/v1/a2a`)],
    provider: { organization: "ArqonBus", url: input.origin },
    version: NODE_VERSION,
    documentationUrl: `${input.origin}/ui`,
    capabilities: { streaming: true, pushNotifications: false, extendedAgentCard: false },
    ...security(input.authRequired),
    defaultInputModes: MODES,
    defaultOutputModes: MODES,
    skills,
  };
}

/** What one agent's card is built from. */
export interface AgentCardInput {
  readonly origin: string;
  readonly reality: string;
  /** The agent id (its hello's name, or the operator's name). */
  readonly id: string;
  /** Its SAM entry, when it presented a card (or is an operator). */
  readonly agent?: AgentView;
  /** Capabilities from presence when it has no SAM card. */
  readonly capabilities: readonly string[];
  readonly authRequired: boolean;
}

/** An agent's card: its own JSON-RPC endpoint, one skill per capability. */
export function agentCard(input: AgentCardInput): Json {
  const { origin, reality, id } = input;
  const caps = input.agent?.capabilities ?? input.capabilities;
  const kind = input.agent?.kind === "operator" ? "Operator" : "Agent";
  const skills = caps.length > 0
    ? caps.map((c) => ({
      id: c,
      name: c,
      description: `${c}, as declared in the card of ${id}`,
      tags: [c],
    }))
    : [{ id: "a2a", name: id, description: `Messages to ${id} over the bus`, tags: ["a2a"] }];
  const path = `/v1/realities/${encodeURIComponent(reality)}/agents/${encodeURIComponent(id)}`;
  return {
    name: id,
    description: `${kind} ${id} of reality ${reality} on an ArqonBus node; calls travel ` +
      `as bus requests on agent.${id}.a2a.`,
    supportedInterfaces: [jsonRpcAt(`${origin}${path}/a2a`)],
    version: NODE_VERSION,
    capabilities: { streaming: true, pushNotifications: false, extendedAgentCard: false },
    ...security(input.authRequired),
    defaultInputModes: MODES,
    defaultOutputModes: MODES,
    skills,
  };
}
