/**
 * The A2A routes of a node (A2A 1.0 JSON-RPC binding): `GET /.well-known/agent-card.json`,
 * `POST /v1/realities/{r}/agents/{id}/a2a` (one endpoint per agent), `POST /v1/a2a` (the
 * node's endpoint: `params.tenant` = `<reality>/<agent>`), `GET
 * /v1/realities/{r}/agents/{id}/card` and `GET /v1/realities/{r}/presence`.
 *
 * Any client that said hello with a name is agent `<name>` of the realities it is present
 * in; operators are agents of their reality. A call needs a token allowed to publish on
 * `agent.<id>.a2a` when the node requires authentication.
 * @module
 */
import type { Context, Hono } from "hono";
import { BusError, realityError, topicError } from "../../protocol/mod.ts";
import type { Spine } from "../../spine/mod.ts";
import type { SessionAccess } from "../auth/mod.ts";
import { agentTopic, type CallContext, noticeCancel, startCall } from "./bus_call.ts";
import { agentCard, nodeCard } from "./card.ts";
import { historyLength, type Json, sendParams, taskIdParam } from "./model.ts";
import type { A2aOptions } from "./options.ts";
import {
  badParams,
  idOf,
  parseRequest,
  RPC_ERRORS,
  RpcError,
  rpcError,
  type RpcRequest,
  rpcResult,
} from "./rpc.ts";
import { taskEventStream } from "./sse.ts";
import { type TaskEntry, TaskTable } from "./tasks.ts";

/** What the A2A routes need from the node. */
export interface A2aRoutesOptions extends A2aOptions {
  readonly spine: Spine;
  readonly nodeId: string;
  /** Whether calls need a token. */
  readonly authRequired: boolean;
  /** The caller's access, set by the node's authentication middleware. */
  readonly accessOf: (req: Request) => SessionAccess | undefined;
  /** How long a call waits for the agent's next reply (`--request-timeout-ms`). */
  readonly requestTimeoutMs: number;
  /** Whether the node's public port speaks TLS (the cards' URLs are `https:`). */
  readonly secure?: boolean;
  /** Counts a bound that refused (`arqon_limit_hits_total`). */
  readonly limitHit?: (limit: string) => void;
}

const A2A_VERSION_HEADER = "a2a-version";

/** The A2A routes, mounted on `app`: call before the realities guard (see `http.ts`). */
export class A2aRoutes {
  readonly #o: A2aRoutesOptions;
  /** The node's A2A tasks. */
  readonly tasks: TaskTable;

  /** Routes over `options`' node. */
  constructor(options: A2aRoutesOptions) {
    this.#o = options;
    this.tasks = new TaskTable(options.a2aMaxTasks);
    this.tasks.onFull = () => options.limitHit?.("a2a_max_tasks");
  }

  /**
   * Mounts the card and call routes. Calls are authorized here (publish on the agent's
   * topic), so they are mounted before the realities guard, which would ask for admin.
   */
  mountCalls(app: Hono): void {
    app.get("/.well-known/agent-card.json", (c) => {
      const spine = this.#o.spine;
      const agents = spine.realities().map((r) => ({
        reality: r.id,
        agents: spine.agents.list(r.id),
      }))
        .filter((r) => r.agents.length > 0);
      c.header("cache-control", "max-age=5");
      return c.json(nodeCard({
        origin: this.#origin(c),
        nodeId: this.#o.nodeId,
        authRequired: this.#o.authRequired,
        agents,
        maxSkills: this.#o.a2aCardMaxSkills,
      }));
    });
    app.post("/v1/realities/:reality/agents/:id/a2a", async (c) => {
      const { reality, id } = this.#agentPath(c);
      if (!this.#known(reality, id)) throw unknownAgent(reality, id);
      return await this.#serve(c, await c.req.text(), () => ({ reality, id }));
    });
    app.post("/v1/a2a", async (c) => {
      return await this.#serve(c, await c.req.text(), (req) => {
        const tenant = req.params.tenant;
        if (typeof tenant !== "string" || tenant === "") {
          throw badParams(
            "tenant",
            `must name the agent as "<reality>/<agent>" (a skill id of the node's card)`,
          );
        }
        const slash = tenant.indexOf("/");
        const reality = slash < 0 ? "default" : tenant.slice(0, slash);
        const id = slash < 0 ? tenant : tenant.slice(slash + 1);
        if (realityError(reality) || agentIdError(id) || !this.#known(reality, id)) {
          throw badParams(
            "tenant",
            `no agent ${JSON.stringify(tenant.slice(0, 128))} on this node`,
          );
        }
        return { reality, id };
      });
    });
  }

  /** Mounts the reads (after the realities guard: they need the reality in the grants). */
  mountReads(app: Hono): void {
    app.get("/v1/realities/:reality/agents/:id/card", (c) => {
      const { reality, id } = this.#agentPath(c);
      if (!this.#known(reality, id)) throw unknownAgent(reality, id);
      const spine = this.#o.spine;
      const agent = spine.agents.list(reality).find((a) => a.name === id);
      const member = spine.presence.list(reality).members.find((m) => m.name === id);
      c.header("cache-control", "max-age=5");
      return c.json(agentCard({
        origin: this.#origin(c),
        reality,
        id,
        agent,
        capabilities: member?.capabilities ?? [],
        authRequired: this.#o.authRequired,
      }));
    });
    app.get("/v1/realities/:reality/presence", (c) => {
      const reality = c.req.param("reality");
      const problem = realityError(reality);
      if (problem) throw new BusError("INVALID_ARGUMENT", problem);
      return c.json({ reality, ...this.#o.spine.presence.list(reality) });
    });
  }

  /**
   * The origin clients reached: the Host header they sent (requests reach Hono relayed by
   * the front door, whose own URL is not the public one).
   */
  #origin(c: Context): string {
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    return `${this.#o.secure ? "https" : "http"}://${host}`;
  }

  #agentPath(c: Context): { reality: string; id: string } {
    const reality = c.req.param("reality")!;
    const id = c.req.param("id")!;
    const problem = realityError(reality) ?? agentIdError(id);
    if (problem) throw new BusError("INVALID_ARGUMENT", problem);
    return { reality, id };
  }

  /** Whether `id` is an agent of `reality`: present under that name, an operator, or answering on its topic. */
  #known(reality: string, id: string): boolean {
    const spine = this.#o.spine;
    if (!spine.hasReality(reality)) return false;
    return spine.presence.hasName(reality, id) || spine.hasSubscribers(reality, agentTopic(id)) ||
      spine.agents.list(reality).some((a) => a.name === id);
  }

  /** Parses, authorizes and carries out one JSON-RPC call. */
  async #serve(
    c: Context,
    text: string,
    target: (req: RpcRequest) => { reality: string; id: string },
  ): Promise<Response> {
    let req: RpcRequest | undefined;
    try {
      req = parseRequest(text);
      const version = c.req.header(A2A_VERSION_HEADER);
      if (version && !/^1(\.\d+)*$/.test(version.trim())) {
        throw new RpcError(
          RPC_ERRORS.VERSION_NOT_SUPPORTED,
          `A2A-Version ${
            JSON.stringify(version.slice(0, 32))
          } is not supported; this node speaks 1.0`,
          "VERSION_NOT_SUPPORTED",
        );
      }
      const { reality, id } = target(req);
      const access = this.#o.accessOf(c.req.raw);
      // Only this grant decides: the call is a publish on the agent's topic.
      access?.admitPublish(reality, agentTopic(id), text.length);
      const call: CallContext = {
        spine: this.#o.spine,
        producer: access?.producerId("a2a") ?? "a2a",
        timeoutMs: this.#o.requestTimeoutMs,
      };
      const owner = access?.principal?.subject ?? "";
      return await this.#method(req, call, reality, id, owner);
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      return Response.json(rpcError(req?.id ?? idOf(text), err));
    }
  }

  async #method(
    req: RpcRequest,
    call: CallContext,
    reality: string,
    agent: string,
    owner: string,
  ): Promise<Response> {
    const params = req.params;
    switch (req.method) {
      case "GetTask": {
        // Params first: a malformed call is INVALID_PARAMS whatever the id names.
        const n = historyLength(params.historyLength, "historyLength");
        const entry = this.tasks.get(taskIdParam(params), reality, agent, owner);
        return Response.json(rpcResult(req.id, entry.view(n)));
      }
      case "CancelTask": {
        const entry = this.tasks.get(taskIdParam(params), reality, agent, owner);
        if (entry.finished) {
          throw new RpcError(
            RPC_ERRORS.TASK_NOT_CANCELABLE,
            `Task cannot be canceled: it is ${entry.task.status.state}`,
            "TASK_NOT_CANCELABLE",
          );
        }
        const status = entry.setStatus("TASK_STATE_CANCELED");
        entry.publish({
          statusUpdate: { taskId: entry.task.id, contextId: entry.task.contextId, status },
        }, true);
        entry.stop?.();
        noticeCancel(call, entry);
        return Response.json(rpcResult(req.id, entry.view()));
      }
      case "SendMessage":
      case "SendStreamingMessage": {
        const send = sendParams(params);
        const entry = this.#taskFor(send.message, reality, agent, owner);
        if (req.method === "SendStreamingMessage") {
          const stream = taskEventStream(entry, req.id, { task: entry.view() });
          try {
            await startCall(call, entry, send.message, req.method);
          } catch (err) {
            stream.abort();
            throw err;
          }
          return new Response(stream.body, {
            headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
          });
        }
        const { done } = await startCall(call, entry, send.message, req.method);
        if (!send.returnImmediately) {
          const failed = await done;
          if (failed) throw failed;
        }
        return Response.json(rpcResult(req.id, { task: entry.view(send.historyLength) }));
      }
    }
  }

  /** The task a message starts, or the interrupted one it continues (`message.taskId`). */
  #taskFor(message: Json, reality: string, agent: string, owner: string): TaskEntry {
    const taskId = message.taskId as string | undefined;
    if (!taskId) {
      const contextId = (message.contextId as string | undefined) || crypto.randomUUID();
      return this.tasks.create(contextId, reality, agent, owner);
    }
    const entry = this.tasks.get(taskId, reality, agent, owner);
    if (message.contextId !== undefined && message.contextId !== entry.task.contextId) {
      throw badParams("message.contextId", "does not match the task's contextId");
    }
    if (entry.finished || entry.stop !== undefined) {
      throw new RpcError(
        RPC_ERRORS.UNSUPPORTED_OPERATION,
        `task ${taskId} is ${entry.finished ? "in a terminal state" : "still running"}; ` +
          "only an interrupted task takes another message",
        "TASK_NOT_WAITING",
      );
    }
    return entry;
  }
}

/** Why `id` cannot name an agent (it is one topic segment: no dots, no wildcards). */
function agentIdError(id: string): string | undefined {
  if (id.includes(".")) return `agent id ${JSON.stringify(id.slice(0, 64))} may not contain "."`;
  const problem = topicError(agentTopic(id));
  return problem ? `agent id ${JSON.stringify(id.slice(0, 64))}: ${problem}` : undefined;
}

function unknownAgent(reality: string, id: string): BusError {
  return new BusError("NOT_FOUND", `no agent "${id}" in reality "${reality}"`);
}
