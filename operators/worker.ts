/**
 * The entry of an operator's Worker: the operator's sandbox runs here, never on the node's
 * event loop, so a heavy operator delays no one's routing. It answers batches of input
 * pulses with one outcome each; a failed pulse's state writes are dropped and the next one
 * runs on a fresh instance over the committed state.
 * @module
 */
/// <reference lib="deno.worker" />
import { Module, SandboxTrapError } from "../runtime/sandbox/mod.ts";
import { OperatorSandbox } from "./operator_sandbox.ts";
import { OPERATOR_WORLD } from "./world.ts";
import type { OutputLimits } from "./operator_instance.ts";
import { OperatorState } from "./state.ts";
import type { FromWorker, PulseOutcome, StartMessage, ToWorker } from "./worker_protocol.ts";
import { ControlApplier } from "./control_apply.ts";

let sandbox: OperatorSandbox | undefined;
let outputLimits: OutputLimits = { maxOutputs: 0, maxOutputBytes: 0 };
const controls = new ControlApplier();
const controlFailed = (message: string) => post({ type: "control-failed", message });

function post(message: FromWorker): void {
  self.postMessage(message);
}

function start(m: StartMessage): void {
  try {
    const module = new Module(m.digest, m.compiled, OPERATOR_WORLD, m.limits);
    const state = new OperatorState(m.maxStateBytes, m.state);
    sandbox = new OperatorSandbox(module, state, m.config, (level, message) => {
      post({ type: "log", level, message });
    });
    outputLimits = m.outputLimits;
    post({ type: "started" });
  } catch (e) {
    post({ type: "failed", message: e instanceof Error ? e.message : String(e) });
  }
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const m = event.data;
  if (m.type === "start") {
    start(m);
    return;
  }
  const outcomes: PulseOutcome[] = [];
  for (const [i, pulse] of m.pulses.entries()) {
    controls.before(sandbox!, m.controls, i, controlFailed);
    const t0 = performance.now();
    try {
      const r = sandbox!.handle(pulse, outputLimits);
      outcomes.push({
        ok: true,
        outputs: r.outputs,
        changes: [...r.changes],
        fuel: r.fuel,
        ms: performance.now() - t0,
      });
    } catch (e) {
      outcomes.push({
        ok: false,
        kind: e instanceof SandboxTrapError ? e.kind : "trap",
        message: e instanceof Error ? e.message : String(e),
        ms: performance.now() - t0,
      });
    }
  }
  controls.after(sandbox!, m.controls, m.pulses.length, controlFailed);
  post({ type: "results", id: m.id, outcomes });
};

// Messages posted before this module finished evaluating (its imports await) may be lost:
// the node waits for this before it sends anything.
post({ type: "ready" });
