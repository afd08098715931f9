/**
 * `nvm-job` in the sandbox (no node): the progress pulses a job emits, their determinism
 * (same pulse, same bytes; another entropy seed, other noise), the physics it claims (a
 * damped ring loses energy), and every refusal as one typed `nvm.job.rejected` output.
 */
import assert from "node:assert/strict";
import { Engine } from "../../../runtime/sandbox/mod.ts";
import { buildOperatorCached, OPERATOR_BUILD_DIR, REPO_ROOT } from "../../build/mod.ts";
import { loadOperator, OperatorSandbox } from "../../operator_sandbox.ts";
import { OperatorState } from "../../state.ts";
import { loadBuiltin } from "../mod.ts";
import type { OperatorPulse } from "../../world.ts";

const component = await buildOperatorCached(
  `${REPO_ROOT}operators/builtin/nvm-job/assembly/operator.ts`,
  `${OPERATOR_BUILD_DIR}builtin/nvm-job.wasm`,
);
const engine = new Engine();
const LIMITS = { maxOutputs: 64, maxOutputBytes: 1 << 20 };
const enc = new TextEncoder();
const dec = new TextDecoder();

async function sandbox(config = "{}"): Promise<OperatorSandbox> {
  return new OperatorSandbox(
    await loadOperator(engine, component),
    new OperatorState(1024),
    config,
  );
}

function submit(job: unknown, seed = 7n): OperatorPulse {
  return {
    topic: "nvm.job.submit",
    reality: "default",
    producer: "lab",
    headers: [],
    contentType: "application/json",
    payload: typeof job === "string" ? enc.encode(job) : enc.encode(JSON.stringify(job)),
    entropySeed: seed,
    wallMs: 1n,
    logical: 0,
  };
}

const JOB = { job_id: "j1", steps: 2000, dt: 0.01, k_c: 0.5, joules: 10, reports: 5 };

Deno.test("nvm-job emits evenly spaced progress on nvm.job.result.<id>, the last done and final", async () => {
  const op = await sandbox();
  const { outputs } = op.handle(submit(JOB), LIMITS);
  assert.deepEqual(outputs.map((o) => o.topic), Array(5).fill("nvm.job.result.j1"));
  const bodies = outputs.map((o) => JSON.parse(dec.decode(o.payload)));
  assert.deepEqual(bodies.map((b) => b.step), [400, 800, 1200, 1600, 2000]);
  assert.deepEqual(bodies.map((b) => b.done), [false, false, false, false, true]);
  assert.deepEqual(outputs.map((o) => o.headers), [
    ...Array(4).fill([["arqon-reply", "more"]]),
    [["arqon-reply", "final"]],
  ]);
  for (const b of bodies) {
    assert.equal(b.job_id, "j1");
    assert.equal(b.state.x.length, 4);
    assert.equal(b.state.v.length, 4);
  }
  // Damped: the energy (10 J at the start) only goes down, noise aside.
  const energies = bodies.map((b) => b.state.energy as number);
  assert.ok(energies[0] < 10 && energies[0] > 5, `first energy ${energies[0]}`);
  for (let i = 1; i < energies.length; i++) assert.ok(energies[i] < energies[i - 1], `${energies}`);
});

Deno.test("nvm-job is deterministic: same pulse, same bytes; another seed, other noise", async () => {
  const a = (await sandbox()).handle(submit(JOB, 42n), LIMITS).outputs;
  const b = (await sandbox()).handle(submit(JOB, 42n), LIMITS).outputs;
  assert.deepEqual(a.map((o) => o.payload), b.map((o) => o.payload));
  const c = (await sandbox()).handle(submit(JOB, 43n), LIMITS).outputs;
  assert.notDeepEqual(a.map((o) => dec.decode(o.payload)), c.map((o) => dec.decode(o.payload)));
  // Without noise the seed does not matter.
  const quiet = { ...JOB, noise: 0 };
  const d = (await sandbox()).handle(submit(quiet, 1n), LIMITS).outputs;
  const e = (await sandbox()).handle(submit(quiet, 2n), LIMITS).outputs;
  assert.deepEqual(d.map((o) => o.payload), e.map((o) => o.payload));
});

Deno.test("nvm-job refuses bad jobs with one typed nvm.job.rejected output", async () => {
  const op = await sandbox('{"max_work": 1000}');
  const cases: [unknown, RegExp][] = [
    ["not json {", /not valid JSON/],
    ["[1,2]", /JSON object/],
    [{ ...JOB, job_id: "Bad.Id" }, /job_id/],
    [{ ...JOB, steps: 1.5 }, /steps/],
    [{ ...JOB, dt: 0 }, /dt/],
    [{ ...JOB, k_c: -1 }, /k_c/],
    [{ ...JOB, joules: "lots" }, /joules/],
    [{ ...JOB, n: 99 }, /n must be/],
    [{ ...JOB, steps: 600 }, /max_work/],
    [{ ...JOB, steps: 10, dt: 1, k_c: 10 }, /diverge/],
    ['{"job_id":"a","job_id":"b"}', /duplicate/],
  ];
  for (const [job, why] of cases) {
    const { outputs } = op.handle(submit(job), LIMITS);
    assert.equal(outputs.length, 1, JSON.stringify(job));
    const [out] = outputs;
    assert.equal(out.topic, "nvm.job.rejected");
    assert.deepEqual(out.headers, [["arqon-error", "INVALID_ARGUMENT"], ["arqon-reply", "final"]]);
    const body = JSON.parse(dec.decode(out.payload));
    assert.equal(body.error.code, "INVALID_ARGUMENT");
    assert.match(body.error.message, why);
  }
  // Still serving after every refusal.
  assert.equal(op.handle(submit({ ...JOB, steps: 100 }), LIMITS).outputs.length, 5);
});

Deno.test("nvm-job's largest job fits the default fuel; its config is checked", async () => {
  const op = await sandbox();
  const big = { job_id: "big", steps: 1250, n: 16, dt: 0.01, k_c: 1, joules: 50, reports: 32 };
  const r = op.handle(submit(big), LIMITS);
  assert.equal(r.outputs.length, 32);
  assert.ok(r.fuel < 10_000_000, `fuel ${r.fuel}`);
  const over = op.handle(submit({ ...big, steps: 1251 }), LIMITS).outputs;
  assert.equal(over[0].topic, "nvm.job.rejected");
  for (const config of ["[]", '{"max_work": 0}', '{"max_work": "x"}']) {
    await assert.rejects(() => sandbox(config), /max_work|config/);
  }
  const builtin = await loadBuiltin("nvm-job");
  assert.deepEqual(builtin.component, component);
});
