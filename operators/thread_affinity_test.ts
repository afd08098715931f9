/** CPU lists and pinning a thread (Linux), against the kernel's own view in /proc. */
import assert from "node:assert/strict";
import { onlineCpus, operatorCpusOf, parseCpuList, pinThread } from "./thread_affinity.ts";

Deno.test("parseCpuList: the kernel's notation, sorted and distinct", () => {
  assert.deepEqual(parseCpuList(""), []);
  assert.deepEqual(parseCpuList("0"), [0]);
  assert.deepEqual(parseCpuList("3,1-2,2"), [1, 2, 3]);
  assert.deepEqual(parseCpuList(" 0 , 4-5 "), [0, 4, 5]);
  assert.deepEqual(parseCpuList("1023"), [1023]);
});

Deno.test("parseCpuList: what is not a list is refused, naming the part", () => {
  assert.throws(() => parseCpuList("a"), /"a" is not a CPU number or range/);
  assert.throws(() => parseCpuList("0,"), /"" is not a CPU number/);
  assert.throws(() => parseCpuList("3-1"), /runs backwards/);
  assert.throws(() => parseCpuList("1024"), /above 1023/);
  assert.throws(() => parseCpuList("-1"), RangeError);
  assert.throws(() => parseCpuList("0-99999"), RangeError);
});

Deno.test("operatorCpusOf: every CPU must be online", () => {
  assert.deepEqual(operatorCpusOf("", [0, 1]), []);
  assert.deepEqual(operatorCpusOf("1", [0, 1]), [1]);
  assert.throws(
    () => operatorCpusOf("0,7", [0, 1]),
    /--operator-cpus: CPU 7 is not online \(online: 0,1\)/,
  );
  assert.throws(() => operatorCpusOf("x", [0, 1]), /--operator-cpus: "x"/);
});

/** The calling thread's allowed CPUs, as the kernel reports them. */
function allowedHere(): string {
  const status = Deno.readTextFileSync("/proc/thread-self/status");
  return /Cpus_allowed_list:\s*(\S+)/.exec(status)![1];
}

const online = onlineCpus();

Deno.test({
  name: "pinThread: a Worker pins its own thread, not the process's other threads",
  ignore: Deno.build.os !== "linux" || online === undefined || online.length < 2,
  fn: async () => {
    const before = allowedHere();
    const cpu = online!.at(-1)!;
    const src = `
      import { pinThread } from ${
      JSON.stringify(new URL("./thread_affinity.ts", import.meta.url).href)
    };
      const ok = pinThread([${cpu}]);
      const status = Deno.readTextFileSync("/proc/thread-self/status");
      self.postMessage({ ok, allowed: /Cpus_allowed_list:\\s*(\\S+)/.exec(status)[1] });
    `;
    const url = URL.createObjectURL(new Blob([src], { type: "application/javascript" }));
    const worker = new Worker(url, { type: "module" });
    const answer = await new Promise<{ ok: boolean; allowed: string }>((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
    });
    worker.terminate();
    URL.revokeObjectURL(url);
    assert.equal(answer.ok, true);
    assert.equal(answer.allowed, String(cpu));
    // This thread kept its own affinity.
    assert.equal(allowedHere(), before);
  },
});

Deno.test("pinThread: nothing to pin is a no-op", () => {
  assert.equal(pinThread([]), false);
});
