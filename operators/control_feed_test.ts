import assert from "node:assert/strict";
import { Engine } from "../runtime/sandbox/mod.ts";
import { ControlParams } from "../runtime/spine/mod.ts";
import { AuditLog } from "../runtime/telemetry/mod.ts";
import { testOperatorComponent } from "./build/mod.ts";
import { ControlFeed, type ControlStep } from "./control_feed.ts";
import { ControlApplier } from "./control_apply.ts";
import { loadOperator, OperatorSandbox } from "./operator_sandbox.ts";
import { OperatorState } from "./state.ts";
import type { OperatorPulse } from "./world.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const LIMITS = { maxOutputs: 8, maxOutputBytes: 1 << 20 };
const engine = new Engine();
const component = await testOperatorComponent("control_echo");

function pulse(text: string): OperatorPulse {
  return {
    topic: "nums.in",
    reality: "r",
    producer: "p",
    headers: [],
    contentType: "text/plain",
    payload: enc.encode(text),
    entropySeed: 1n,
    wallMs: 1n,
    logical: 0,
  };
}

const body = (params: Record<string, unknown>) => enc.encode(JSON.stringify({ params }));
const seq = (...s: number[]) => s.map((sequence) => ({ sequence }));

async function sandbox(memoryPages = 16): Promise<OperatorSandbox> {
  const module = await loadOperator(engine, component, {
    fuelPerCall: 50_000_000,
    memoryPages,
  });
  return new OperatorSandbox(module, new OperatorState(1 << 16));
}

/** Handles `text` after the steps planned for index `i`; returns the k_c it saw. */
function echo(op: OperatorSandbox, applier: ControlApplier, steps: ControlStep[], i: number) {
  const failures: string[] = [];
  applier.before(op, steps, i, (m) => failures.push(m));
  const out = op.handle(pulse(String(i)), LIMITS).outputs;
  return { k_c: JSON.parse(dec.decode(out[0].payload)).k_c, failures };
}

Deno.test("the feed plans, per pulse, the set effective at its sequence", () => {
  const control = new ControlParams({ audit: AuditLog.open() });
  const feed = new ControlFeed(control, "r");
  assert.equal(feed.catchUp(), undefined, "nothing set: nothing to hand over");
  assert.deepEqual(feed.plan(seq(1, 2)), [], "version 0 is what a fresh instance has");
  control.apply("r", 3, "t", body({ k_c: 1 }));
  control.apply("r", 6, "t", body({ k_c: 2, z: "a" }));
  const steps = feed.plan(seq(4, 5, 6, 7, 2));
  assert.deepEqual(steps, [
    { before: 0, version: 1, params: [["k_c", "1"]] },
    { before: 2, version: 2, params: [["k_c", "2"], ["z", '"a"']] },
    // An input sequenced before any change (e.g. from a second input pattern): none.
    { before: 4, version: 0, params: [] },
  ]);
  assert.deepEqual(feed.plan(seq(2)), [], "already handed over");
  feed.reset();
  assert.deepEqual(feed.catchUp(), { before: 0, version: 2, params: [["k_c", "2"], ["z", '"a"']] });
  assert.equal(feed.catchUp(), undefined, "already holds it");
  assert.deepEqual(feed.plan(seq(8)), []);
  // Another reality's changes are not this feed's.
  control.apply("other", 9, "t", body({ k_c: 9 }));
  assert.deepEqual(feed.plan(seq(10)), []);
  assert.equal(feed.catchUp(), undefined);
  assert.deepEqual(new ControlFeed(undefined, "r").plan(seq(8)), [], "no source: no steps");
});

Deno.test("the feed wakes its runner after a change of its reality only, not within it", async () => {
  const control = new ControlParams({ audit: AuditLog.open() });
  const feed = new ControlFeed(control, "r");
  const woken: string[] = [];
  const stop = feed.watch(() => woken.push("r"));
  control.apply("r", 1, "t", body({ a: 1 }));
  assert.deepEqual(woken, [], "not within the change");
  await Promise.resolve();
  assert.deepEqual(woken, ["r"]);
  control.apply("other", 1, "t", body({ a: 1 }));
  stop();
  control.apply("r", 2, "t", body({ a: 2 }));
  await Promise.resolve();
  assert.deepEqual(woken, ["r"]);
});

Deno.test("the applier hands sets over between pulses and again to a rebuilt instance", async () => {
  const op = await sandbox();
  const applier = new ControlApplier();
  const steps: ControlStep[] = [
    { before: 0, version: 1, params: [["k_c", "0.5"]] },
    { before: 2, version: 2, params: [["k_c", "0.75"]] },
  ];
  assert.equal(echo(op, applier, steps, 0).k_c, 0.5);
  assert.equal(echo(op, applier, steps, 1).k_c, 0.5);
  assert.equal(echo(op, applier, steps, 2).k_c, 0.75);
  assert.throws(() => op.handle(pulse("trap"), LIMITS));
  assert.equal(op.discarded, 1);
  // The next pulse runs on a new instance: the set is offered to it first.
  assert.deepEqual(echo(op, applier, [], 3), { k_c: 0.75, failures: [] });
  // Steps past the last pulse run after it.
  const after: string[] = [];
  applier.after(op, [{ before: 1, version: 3, params: [["k_c", "1"]] }], 1, (m) => after.push(m));
  assert.deepEqual(echo(op, applier, [], 4), { k_c: 1, failures: [] });
});

Deno.test("a refused or trapping on-control is reported, never thrown", async () => {
  const op = await sandbox();
  const applier = new ControlApplier();
  const refuse = [{
    before: 0,
    version: 1,
    params: [["k_c", "2"], ["mode", '"refuse"']],
  }] as ControlStep[];
  const r = echo(op, applier, refuse, 0);
  assert.equal(r.k_c, 2, "the SDK kept the set the guest refused");
  assert.match(r.failures[0], /on-control returned an error: mode refuse: refused/);
  assert.deepEqual(echo(op, applier, [], 1).failures, [], "a refusal is not repeated");
  const trap = [{
    before: 0,
    version: 2,
    params: [["k_c", "3"], ["mode", '"trap"']],
  }] as ControlStep[];
  const t = echo(op, applier, trap, 0);
  assert.match(t.failures[0], /on-control failed: .*unreachable/);
  assert.equal(t.k_c, null, "the instance that trapped took its set with it");
  // Offered again to the next instance (it traps again: each pulse counts a failure).
  assert.equal(echo(op, applier, [], 1).failures.length, 1);
});

Deno.test("the SDK keeps large and changing sets within bounded memory", async () => {
  // 4 pages = 256 KiB of linear memory: 300 sets of ~40 KiB must not accumulate.
  const op = await sandbox(4);
  const applier = new ControlApplier();
  for (let v = 1; v <= 300; v++) {
    const filler = "x".repeat(v % 2 === 0 ? 40_000 : 100 * v);
    const steps: ControlStep[] = [{
      before: 0,
      version: v,
      params: [["filler", JSON.stringify(filler)], ["k_c", String(v)]],
    }];
    const r = echo(op, applier, steps, 0);
    assert.deepEqual(r, { k_c: v, failures: [] }, `set ${v}`);
  }
  assert.equal(op.discarded, 0, "no instance ran out of memory");
});
