import assert from "node:assert/strict";
import { MAX_STREAM_BACKLOG, taskEventStream } from "./sse.ts";
import { TaskEntry } from "./tasks.ts";

const dec = new TextDecoder();

async function drain(body: ReadableStream<Uint8Array>): Promise<Record<string, unknown>[]> {
  const text = dec.decode(await new Response(body).arrayBuffer());
  return text.split("\n\n").filter(Boolean).map((b) => JSON.parse(b.replace(/^data: /, "")));
}

Deno.test("a stream nobody reads ends with a typed error past MAX_STREAM_BACKLOG events, and stops listening", async () => {
  const entry = new TaskEntry("t1", "c1", "default", "a", "");
  const { body } = taskEventStream(entry, 3, { task: entry.view() });
  for (let i = 0; i < MAX_STREAM_BACKLOG + 50; i++) {
    entry.publish({
      artifactUpdate: { taskId: "t1", contextId: "c1", artifact: { artifactId: `a${i}` } },
    }, false);
  }
  assert.equal(entry.listeners.size, 0, "the listener is gone");
  const events = await drain(body);
  const last = events.at(-1) as { id: number; error: { code: number; data: { reason: string }[] } };
  assert.equal(last.id, 3);
  assert.equal(last.error.code, -32603);
  assert.equal(last.error.data[0].reason, "SLOW_CONSUMER");
  // The first event, then the backlog the bound allowed, then the error.
  assert.equal(events.length, MAX_STREAM_BACKLOG + 1);
});

Deno.test("a stream ends at the final event and delivers everything before it in order", async () => {
  const entry = new TaskEntry("t2", "c2", "default", "a", "");
  const { body } = taskEventStream(entry, "x", { task: entry.view() });
  entry.publish({ statusUpdate: { taskId: "t2", status: { state: "TASK_STATE_WORKING" } } }, false);
  entry.publish(
    { statusUpdate: { taskId: "t2", status: { state: "TASK_STATE_COMPLETED" } } },
    true,
  );
  entry.publish({ statusUpdate: { taskId: "t2", status: { state: "TASK_STATE_FAILED" } } }, true);
  const events = await drain(body);
  assert.deepEqual(
    events.map((e) => Object.keys(e.result as object)[0]),
    ["task", "statusUpdate", "statusUpdate"],
  );
  assert.equal(entry.listeners.size, 0);
});
