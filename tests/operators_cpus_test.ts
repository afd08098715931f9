/**
 * `--operator-cpus`: a real node pins its operators' Worker threads to the CPUs named, and
 * refuses a list it cannot honour at its start. The Worker's affinity is read from the
 * kernel (/proc), its outputs through a raw JSON WebSocket client. Asserts affinities and
 * outputs, never timings.
 */
import assert from "node:assert/strict";
import { parseConfig, startNode } from "../mod.ts";
import { onlineCpus } from "../operators/thread_affinity.ts";
import { withNode } from "./support/node.ts";
import { call, client, delivered, publish } from "./support/operators.ts";

/** Thread id -> allowed CPU list, for every thread of this process. */
function threadAffinities(): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      const status = Deno.readTextFileSync(`/proc/self/task/${t.name}/status`);
      out.set(t.name, /Cpus_allowed_list:\s*(\S+)/.exec(status)![1]);
    } catch { /* the thread ended meanwhile */ }
  }
  return out;
}

const online = onlineCpus();
const processCpus = /Cpus_allowed_list:\s*(\S+)/.exec(
  Deno.readTextFileSync("/proc/self/status"),
)?.[1];

Deno.test({
  name: "--operator-cpus: the operator's Worker runs on the CPU named, its outputs flow",
  // Needs a CPU list narrower than the process's own to tell the Worker apart.
  ignore: Deno.build.os !== "linux" || online === undefined || online.length < 2,
  fn: async () => {
    const cpu = String(online!.at(-1));
    assert.notEqual(processCpus, cpu);
    await withNode(async (node) => {
      const before = threadAffinities();
      const up = await call(node.url, "PUT", "/v1/operators/pinned", {
        builtin: "echo",
        inputs: ["cpu.in.>"],
        config: { to: "cpu.out" },
      });
      assert.equal(up.status, 201, JSON.stringify(up.body));
      const s = await client(node.wsUrl, "cpu.out");
      for (let i = 0; i < 5; i++) publish(s, `cpu.in.${i}`, `n${i}`);
      await s.until(() => delivered(s, "cpu.out").length === 5, "5 echoes");
      assert.deepEqual(delivered(s, "cpu.out").map((p) => atob(p.payload)), [
        "n0",
        "n1",
        "n2",
        "n3",
        "n4",
      ]);
      const pinned = [...threadAffinities()].filter(([tid, cpus]) =>
        !before.has(tid) && cpus === cpu
      );
      assert.equal(pinned.length, 1, `one new thread on CPU ${cpu}: ${JSON.stringify(pinned)}`);
      // No thread that was there before moved.
      for (const [tid, cpus] of threadAffinities()) {
        if (before.has(tid)) assert.equal(cpus, before.get(tid), `thread ${tid}`);
      }
      s.ws.close();
    }, { operatorCpus: cpu });
  },
});

Deno.test("--operator-cpus: a CPU that is not online or a bad list stops the start, named", async () => {
  await assert.rejects(
    startNode({ port: 0, log: "quiet", operatorCpus: "1000" }),
    /--operator-cpus: CPU 1000 is not online/,
  );
  await assert.rejects(
    startNode({ port: 0, log: "quiet", operatorCpus: "0-x" }),
    /--operator-cpus: "0-x" is not a CPU number or range/,
  );
});

Deno.test("--operator-cpus parses as a flag and from the environment", () => {
  const cpus = (args: string[], env: Record<string, string> = {}) => {
    const parsed = parseConfig(args, (n) => env[n]);
    assert.ok(!parsed.help);
    return parsed.config.operatorCpus;
  };
  assert.equal(cpus(["--operator-cpus", "0,2-3"]), "0,2-3");
  assert.equal(cpus([], { ARQON_OPERATOR_CPUS: "1" }), "1");
  assert.equal(cpus([]), "");
});
