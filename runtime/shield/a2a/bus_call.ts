/**
 * An A2A call carried over the bus: the caller's message is published as a request on
 * `agent.<id>.a2a` (JSON payload, headers `a2a-method`, `a2a-task-id`, `a2a-context-id`)
 * with a fresh inbox as `reply_to`; every pulse the agent publishes to that inbox is one
 * `StreamResponse` of the task. The call ends at a reply that ends it (a message, a
 * terminal or interrupted state, or any reply with header `a2a-final: true`), at the
 * timeout (no reply for `timeoutMs`: the task fails), or at `CancelTask`. Agents need no
 * HTTP server: any bus client answering requests is one.
 * @module
 */
import { BusError, type IPulse } from "../../protocol/mod.ts";
import type { Spine, Subscription, SubscriptionOwner } from "../../spine/mod.ts";
import { agentEvent, type Json } from "./model.ts";
import { RPC_ERRORS, RpcError } from "./rpc.ts";
import type { TaskEntry } from "./tasks.ts";

/** The header naming the A2A method of a request pulse (`SendMessage`, `CancelTask`, ...). */
export const METHOD_HEADER = "a2a-method";
/** The header an agent sets on its last reply of a call, whatever it carries. */
export const FINAL_HEADER = "a2a-final";

/** Replies one call may have queued before the node reads them. */
const INBOX_QUEUE = 1024;

const encoder = new TextEncoder();

/** The topic agent `id` answers A2A calls on. */
export function agentTopic(id: string): string {
  return `agent.${id}.a2a`;
}

/** What a call needs from the node. */
export interface CallContext {
  readonly spine: Spine;
  /** Producer id the request carries (the caller's). */
  readonly producer: string;
  /** Longest wait for the agent's next reply. */
  readonly timeoutMs: number;
}

class Replies implements SubscriptionOwner {
  onPulse: (p: IPulse) => void = () => {};
  wake(sub: Subscription): void {
    for (const d of sub.take(INBOX_QUEUE)) this.onPulse(d.pulse);
  }
  overflowed(): void {}
}

/**
 * Starts a call for `entry` with `message`; resolves once the request is published, with
 * `done`, the call's end (its error, if it failed), wrapped: an async function returning
 * a promise would wait for it. Throws `RpcError` `UNSUPPORTED_OPERATION` when nobody
 * answers on the agent's topic.
 */
export async function startCall(
  ctx: CallContext,
  entry: TaskEntry,
  message: Json,
  method: string,
): Promise<{ done: Promise<RpcError | undefined> }> {
  const { spine } = ctx;
  const topic = agentTopic(entry.agent);
  if (
    !spine.hasSubscribers(entry.reality, topic) &&
    !(await spine.hasResponders(entry.reality, topic))
  ) {
    throw new RpcError(
      RPC_ERRORS.UNSUPPORTED_OPERATION,
      `agent "${entry.agent}" serves no A2A calls: nobody subscribes to "${topic}"`,
      "NO_RESPONDERS",
    );
  }
  const inbox = spine.inboxes.open();
  const replies = new Replies();
  let sub: Subscription | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let settle: (e: RpcError | undefined) => void = () => {};
  const done = new Promise<RpcError | undefined>((r) => settle = r);
  let over = false;
  const finish = (error?: RpcError) => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    spine.inboxes.close(inbox);
    if (sub) spine.unsubscribe(sub);
    entry.stop = undefined;
    settle(error);
  };
  const fail = (error: RpcError) => {
    const status = entry.setStatus("TASK_STATE_FAILED", {
      messageId: crypto.randomUUID(),
      role: "ROLE_AGENT",
      parts: [{ text: error.message }],
    });
    entry.publish({
      statusUpdate: { taskId: entry.task.id, contextId: entry.task.contextId, status },
    }, true);
    finish(error);
  };
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() =>
      fail(
        new RpcError(
          RPC_ERRORS.INTERNAL,
          `agent "${entry.agent}" sent no reply within ${ctx.timeoutMs} ms`,
          "TIMEOUT",
        ),
      ), ctx.timeoutMs);
  };
  replies.onPulse = (pulse) => {
    if (over) return;
    let applied;
    try {
      applied = entry.apply(agentEvent(pulse.payload));
    } catch (err) {
      return fail(err as RpcError);
    }
    const final = applied.final || pulse.headers?.[FINAL_HEADER] === "true";
    entry.publish(applied.response, final);
    if (final) finish();
    else arm();
  };
  entry.stop = () => finish();
  try {
    sub = spine.subscribe(replies, {
      id: 0,
      realityId: entry.reality,
      pattern: inbox,
      maxMessages: INBOX_QUEUE,
      overflow: "drop-new",
    });
    const payload = { ...message, taskId: entry.task.id, contextId: entry.task.contextId };
    entry.remember(payload);
    entry.setStatus("TASK_STATE_WORKING");
    arm();
    await spine.publish({
      realityId: entry.reality,
      topic,
      contentType: "application/json",
      payload: encoder.encode(JSON.stringify(payload)),
      headers: {
        [METHOD_HEADER]: method,
        "a2a-task-id": entry.task.id,
        "a2a-context-id": entry.task.contextId,
      },
      replyTo: inbox,
    }, ctx.producer);
  } catch (err) {
    const e = err instanceof BusError ? err : new BusError("INTERNAL", String(err));
    const rpc = new RpcError(RPC_ERRORS.INTERNAL, `${e.code}: ${e.message}`, e.code);
    fail(rpc);
    throw rpc;
  }
  return { done };
}

/** Tells the agent a task was canceled (best effort: a pulse with `a2a-method: CancelTask`). */
export function noticeCancel(ctx: CallContext, entry: TaskEntry): void {
  try {
    const r = ctx.spine.publish({
      realityId: entry.reality,
      topic: agentTopic(entry.agent),
      contentType: "application/json",
      payload: encoder.encode(JSON.stringify({ id: entry.task.id })),
      headers: { [METHOD_HEADER]: "CancelTask", "a2a-task-id": entry.task.id },
    }, ctx.producer);
    if (r instanceof Promise) r.catch(() => {});
  } catch {
    // The task is canceled on the node whatever the agent hears.
  }
}
