import assert from "node:assert/strict";
import { CHEAP_FUEL, niceFor, WORKER_NICE } from "./thread_nice.ts";

/** The nice value of thread `tid` of this process, from /proc (field 19 of stat). */
function niceOf(tid: number | string): number {
  const stat = Deno.readTextFileSync(`/proc/self/task/${tid}/stat`);
  // The command name (field 2) may hold spaces: fields count from after its ")".
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(rest[19 - 3]);
}

/** Thread ids of this process at nice `nice`. */
function threadsAt(nice: number): string[] {
  return [...Deno.readDirSync("/proc/self/task")].map((e) => e.name)
    .filter((tid) => niceOf(tid) === nice);
}

Deno.test("niceFor: cheap pulses keep the node's priority, expensive ones yield up to WORKER_NICE", () => {
  assert.equal(niceFor(0), 0);
  assert.equal(niceFor(50_000), 0, "the bench's sum operator (~50k fuel a pulse)");
  assert.equal(niceFor(CHEAP_FUEL), 0);
  assert.equal(niceFor(CHEAP_FUEL * 2), 3);
  assert.equal(niceFor(CHEAP_FUEL * 10), WORKER_NICE);
  assert.equal(niceFor(8_700_000), WORKER_NICE, "the bench's burner (87% of 10M)");
  assert.equal(niceFor(1e12), WORKER_NICE, "never past WORKER_NICE");
  assert.equal(niceFor(NaN), 0);
  let last = 0;
  for (let f = 1; f < 1e9; f *= 1.5) {
    assert.ok(niceFor(f) >= last, "more fuel never raises the priority");
    last = niceFor(f);
  }
});

Deno.test({
  name: "ThreadPriority moves only its own (Worker) thread, following the fuel it observes",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const main = niceOf(Deno.pid);
    assert.notEqual(main, WORKER_NICE, "the test runs at a nice other than the Workers'");
    const already = new Set(threadsAt(WORKER_NICE));
    const worker = new Worker(new URL("./testdata/workers/priority_worker.ts", import.meta.url), {
      type: "module",
    });
    const replies: { nice?: number; ready?: boolean }[] = [];
    let wake = () => {};
    worker.onmessage = (e) => {
      replies.push(e.data);
      wake();
    };
    const next = async () => {
      while (replies.length === 0) await new Promise<void>((r) => wake = r);
      return replies.shift()!;
    };
    try {
      assert.ok((await next()).ready);
      worker.postMessage({ fuel: 64 * 50_000, pulses: 64 });
      assert.equal((await next()).nice, 0, "cheap: unchanged");
      assert.deepEqual(threadsAt(WORKER_NICE).filter((t) => !already.has(t)), []);
      // The average follows within a few batches.
      let nice = 0;
      for (let i = 0; i < 4; i++) {
        worker.postMessage({ fuel: 64 * 9_000_000, pulses: 64 });
        nice = (await next()).nice!;
      }
      assert.equal(nice, WORKER_NICE);
      const fresh = threadsAt(WORKER_NICE).filter((tid) => !already.has(tid));
      assert.equal(fresh.length, 1, `one new thread at nice ${WORKER_NICE}: ${fresh}`);
      assert.match(Deno.readTextFileSync(`/proc/self/task/${fresh[0]}/comm`), /worker/i);
      assert.equal(niceOf(Deno.pid), main, "the main thread keeps its priority");
      if (Deno.uid() === 0) {
        // Back to cheap pulses: back to the node's priority (allowed to root here).
        for (let i = 0; i < 12; i++) {
          worker.postMessage({ fuel: 64 * 10_000, pulses: 64 });
          nice = (await next()).nice!;
        }
        assert.equal(nice, 0);
        assert.equal(niceOf(fresh[0]), 0);
      }
    } finally {
      worker.terminate();
    }
  },
});
