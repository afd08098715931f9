import assert from "node:assert/strict";
import type { FromWorker } from "./worker_protocol.ts";
import { WORKER_NICE } from "./thread_nice.ts";

/** The nice value of thread `tid` of this process, from /proc (field 19 of stat). */
function niceOf(tid: number | string): number {
  const stat = Deno.readTextFileSync(`/proc/self/task/${tid}/stat`);
  // The command name (field 2) may hold spaces: fields count from after its ")".
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(rest[19 - 3]);
}

/** Thread ids of this process at the Workers' nice. */
function niced(): string[] {
  return [...Deno.readDirSync("/proc/self/task")].map((e) => e.name)
    .filter((tid) => niceOf(tid) === WORKER_NICE);
}

Deno.test({
  name:
    "the operator Worker lowers its own thread to nice WORKER_NICE; the node's threads keep theirs",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const main = niceOf(Deno.pid);
    assert.notEqual(main, WORKER_NICE, "the test runs at a nice other than the Workers'");
    const already = new Set(niced());
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    try {
      await new Promise<void>((resolve, reject) => {
        worker.onmessage = (e: MessageEvent<FromWorker>) => e.data.type === "ready" && resolve();
        worker.onerror = (e) => reject(new Error(e.message));
      });
      const fresh = niced().filter((tid) => !already.has(tid));
      assert.equal(fresh.length, 1, `one new thread at nice ${WORKER_NICE}: ${fresh}`);
      const comm = Deno.readTextFileSync(`/proc/self/task/${fresh[0]}/comm`).trim();
      assert.match(comm, /worker/i);
      assert.equal(niceOf(Deno.pid), main);
    } finally {
      worker.terminate();
    }
  },
});
