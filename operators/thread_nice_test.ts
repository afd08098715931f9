import assert from "node:assert/strict";
import type { FromWorker } from "./worker_protocol.ts";

/** The nice value of thread `tid` of this process, from /proc (field 19 of stat). */
function niceOf(tid: number | string): number {
  const stat = Deno.readTextFileSync(`/proc/self/task/${tid}/stat`);
  // The command name (field 2) may hold spaces: fields count from after its ")".
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(rest[19 - 3]);
}

/** Thread ids of this process at nice 19. */
function niced(): string[] {
  return [...Deno.readDirSync("/proc/self/task")].map((e) => e.name)
    .filter((tid) => niceOf(tid) === 19);
}

Deno.test({
  name: "the operator Worker lowers its own thread to nice 19; the node's threads keep theirs",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const main = niceOf(Deno.pid);
    assert.notEqual(main, 19, "the test runs at a nice other than 19");
    const already = new Set(niced());
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    try {
      await new Promise<void>((resolve, reject) => {
        worker.onmessage = (e: MessageEvent<FromWorker>) => e.data.type === "ready" && resolve();
        worker.onerror = (e) => reject(new Error(e.message));
      });
      const fresh = niced().filter((tid) => !already.has(tid));
      assert.equal(fresh.length, 1, `one new thread at nice 19: ${fresh}`);
      const comm = Deno.readTextFileSync(`/proc/self/task/${fresh[0]}/comm`).trim();
      assert.match(comm, /worker/i);
      assert.equal(niceOf(Deno.pid), main);
    } finally {
      worker.terminate();
    }
  },
});
