/**
 * The A2A tasks of a node, in one bounded table: each `SendMessage` creates a task (or
 * continues one waiting for input), the agent's replies update it, and `GetTask` /
 * `CancelTask` read and end it. Past `a2aMaxTasks` the oldest finished task is forgotten;
 * when every task is still running a new one is refused (`INTERNAL` with reason
 * `QUOTA_EXCEEDED`). Each task keeps at most `MAX_TASK_ENTRIES` history messages and
 * artifacts (oldest dropped), so a chatty agent cannot grow one without bound.
 * @module
 */
import { type AgentEvent, endsCall, isTerminal, type Json } from "./model.ts";
import { RPC_ERRORS, RpcError } from "./rpc.ts";

/** History messages, artifacts, and parts per artifact, one task keeps. */
export const MAX_TASK_ENTRIES = 64;

/** A task with who may see it and who listens to it. */
export class TaskEntry {
  /** The A2A `Task` object as served. */
  readonly task: Json & {
    id: string;
    contextId: string;
    status: Json & { state: string };
    artifacts: Json[];
    history: Json[];
  };
  /** The reality and agent it was sent to: it is found only through their endpoint. */
  readonly reality: string;
  readonly agent: string;
  /** Who created it (the token's subject; `""` on an open node): others do not see it. */
  readonly owner: string;
  /** Stream events go here while a call runs (SSE responses subscribe). */
  readonly listeners = new Set<(event: Json, final: boolean) => void>();
  /** Ends the running call (CancelTask): releases its inbox. */
  stop: (() => void) | undefined;

  /** A new task in state SUBMITTED. */
  constructor(id: string, contextId: string, reality: string, agent: string, owner: string) {
    this.task = {
      id,
      contextId,
      status: { state: "TASK_STATE_SUBMITTED", timestamp: new Date().toISOString() },
      artifacts: [],
      history: [],
    };
    this.reality = reality;
    this.agent = agent;
    this.owner = owner;
  }

  /** Whether it reached a terminal state. */
  get finished(): boolean {
    return isTerminal(this.task.status.state);
  }

  /** Appends a message to the history (bounded). */
  remember(message: Json): void {
    const h = this.task.history;
    h.push(message);
    if (h.length > MAX_TASK_ENTRIES) h.splice(0, h.length - MAX_TASK_ENTRIES);
  }

  /** Sets the status (with a timestamp) and keeps its message in the history. */
  setStatus(state: string, message?: Json): Json {
    const status: Json & { state: string } = { state, timestamp: new Date().toISOString() };
    if (message) {
      status.message = { ...message, taskId: this.task.id, contextId: this.task.contextId };
      this.remember(status.message as Json);
    }
    this.task.status = status;
    return status;
  }

  /**
   * Applies one agent reply; returns the `StreamResponse` to send callers and whether
   * the call ends with it. A bare message completes the task with it as status message.
   */
  apply(event: AgentEvent): { response: Json; final: boolean } {
    const ids = { taskId: this.task.id, contextId: this.task.contextId };
    switch (event.kind) {
      case "message": {
        const status = this.setStatus("TASK_STATE_COMPLETED", {
          ...event.message,
          role: "ROLE_AGENT",
        });
        return { response: { statusUpdate: { ...ids, status } }, final: true };
      }
      case "statusUpdate": {
        const s = event.status;
        const status = this.setStatus(s.state as string, s.message as Json | undefined);
        return {
          response: { statusUpdate: { ...ids, status } },
          final: endsCall(status.state as string),
        };
      }
      case "task": {
        const s = event.task.status as Json;
        this.setStatus(s.state as string, s.message as Json | undefined);
        for (const a of (event.task.artifacts as Json[] | undefined) ?? []) {
          this.#artifact(a, false);
        }
        return { response: { task: this.view() }, final: endsCall(this.task.status.state) };
      }
      case "artifactUpdate": {
        const artifact = this.#artifact(event.artifact, event.append);
        return {
          response: {
            artifactUpdate: { ...ids, artifact, append: event.append, lastChunk: event.lastChunk },
          },
          final: false,
        };
      }
    }
  }

  #artifact(a: Json, append: boolean): Json {
    const list = this.task.artifacts;
    const at = list.findIndex((x) => x.artifactId === a.artifactId);
    let kept: Json;
    if (at >= 0 && append) {
      const parts = [...(list[at].parts as Json[]), ...(a.parts as Json[])];
      kept = { ...list[at], parts: parts.slice(-MAX_TASK_ENTRIES) };
      list[at] = kept;
    } else {
      kept = { ...a, parts: (a.parts as Json[]).slice(-MAX_TASK_ENTRIES) };
      if (at >= 0) list[at] = kept;
      else list.push(kept);
      if (list.length > MAX_TASK_ENTRIES) list.splice(0, list.length - MAX_TASK_ENTRIES);
    }
    return kept;
  }

  /** Tells listeners; a final event also drops them. */
  publish(response: Json, final: boolean): void {
    for (const l of this.listeners) l(response, final);
    if (final) this.listeners.clear();
  }

  /** The task as served, its history cut to the last `historyLength` messages. */
  view(historyLength?: number): Json {
    const { history, ...rest } = this.task;
    const h = historyLength === undefined
      ? history
      : historyLength === 0
      ? []
      : history.slice(-historyLength);
    return structuredClone({ ...rest, history: h });
  }
}

/** The bounded table of tasks. */
export class TaskTable {
  readonly #tasks = new Map<string, TaskEntry>();
  readonly #max: number;
  /** Called when the bound refuses a task. */
  onFull: (() => void) | undefined;

  /** A table of at most `max` tasks. */
  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  /** Tasks held. */
  get size(): number {
    return this.#tasks.size;
  }

  /**
   * A new task. When full, the oldest finished or interrupted task is forgotten; with
   * every task still running, `INTERNAL` (reason `QUOTA_EXCEEDED`).
   */
  create(contextId: string, reality: string, agent: string, owner: string): TaskEntry {
    if (this.#tasks.size >= this.#max) {
      let victim: string | undefined;
      // Map order is insertion order: the first idle task found is the oldest.
      for (const [id, t] of this.#tasks) {
        if (t.stop === undefined) {
          victim = id;
          break;
        }
      }
      if (victim === undefined) {
        this.onFull?.();
        throw new RpcError(
          RPC_ERRORS.INTERNAL,
          `the node's task table is full: ${this.#max} tasks are running (--a2a-max-tasks)`,
          "QUOTA_EXCEEDED",
        );
      }
      this.#tasks.delete(victim);
    }
    const entry = new TaskEntry(crypto.randomUUID(), contextId, reality, agent, owner);
    this.#tasks.set(entry.task.id, entry);
    return entry;
  }

  /** The task `id` as seen through `reality`/`agent` by `owner`; `TASK_NOT_FOUND` else. */
  get(id: string, reality: string, agent: string, owner: string): TaskEntry {
    const t = this.#tasks.get(id);
    if (!t || t.reality !== reality || t.agent !== agent || t.owner !== owner) {
      throw new RpcError(
        RPC_ERRORS.TASK_NOT_FOUND,
        `Task not found: ${id.slice(0, 64)}`,
        "TASK_NOT_FOUND",
      );
    }
    return t;
  }
}
