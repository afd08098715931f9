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
import { checkOutputs } from "./output_check.ts";
import { ThreadPriority } from "./thread_nice.ts";
import { pinThread } from "./thread_affinity.ts";
import { OperatorState } from "./state.ts";
import {
  batchFuel,
  decodeBatch,
  encodeOutcomes,
  type FromWorker,
  type PulseOutcome,
  type ResetMessage,
  type StartMessage,
  type ToWorker,
} from "./worker_protocol.ts";
import { ControlApplier } from "./control_apply.ts";
import { decodePulse } from "../runtime/protocol/mod.ts";
import { toOperatorPulse } from "./input_pulse.ts";
import { buildOutputs } from "./output_build.ts";

let sandbox: OperatorSandbox | undefined;
let outputLimits: OutputLimits = { maxOutputs: 0, maxOutputBytes: 0 };
let started: StartMessage | undefined;
let check: (outputs: Parameters<typeof checkOutputs>[0]) => void = () => {};

const controls = new ControlApplier();
// This thread shares the node's CPUs with its event loop: an operator whose pulses are
// expensive yields to it (operators/thread_nice.ts, niceFor); a cheap one keeps its priority.
const priority = new ThreadPriority();
const controlFailed = (message: string) => post({ type: "control-failed", message });

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

function start(m: StartMessage): void {
  if (m.cpus !== undefined && m.cpus.length > 0 && !pinThread(m.cpus)) {
    post({ type: "log", level: "warn", message: `could not pin to CPUs ${m.cpus.join(",")}` });
  }
  try {
    started = m;
    sandbox = build(m.state);
    outputLimits = m.outputLimits;
    check = (outputs) => checkOutputs(outputs, m.reality);
    post({ type: "started" });
  } catch (e) {
    post({ type: "failed", message: e instanceof Error ? e.message : String(e) });
  }
}

function build(state: [string, Uint8Array][]): OperatorSandbox {
  const m = started!;
  const module = new Module(m.digest, m.compiled, OPERATOR_WORLD, m.limits);
  return new OperatorSandbox(
    module,
    new OperatorState(m.maxStateBytes, state, m.readOnlyState ?? false),
    m.config,
    (level, message) => post({ type: "log", level, message }),
  );
}

function reset(m: ResetMessage): void {
  try {
    sandbox = build(m.state);
  } catch (e) {
    // The next pulses fail (counted) until the operator is fixed or quarantined.
    sandbox = undefined;
    post({ type: "log", level: "error", message: `cannot reset the state: ${e}` });
  }
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const m = event.data;
  if (m.type === "start") {
    start(m);
    return;
  }
  if (m.type === "reset") {
    reset(m);
    return;
  }
  const outcomes: PulseOutcome[] = [];
  const pulses = decodeBatch(m.packed);
  for (let i = 0; i < pulses.length; i++) {
    if (sandbox) controls.before(sandbox, m.controls, i, controlFailed);
    const t0 = performance.now();
    try {
      if (!sandbox) throw new SandboxTrapError("trap", "the operator has no live instance");
      // The node sends each input as the bytes it holds for delivery; the decoding, the
      // operator's view of it and its outputs' derivation and encoding all happen here,
      // off the node's event loop.
      const input = decodePulse(pulses[i]);
      const r = sandbox.handle(toOperatorPulse(input), outputLimits, check);
      const ms = performance.now() - t0;
      const built = buildOutputs(input, r.outputs, started!.name, started!.reality);
      outcomes.push({
        ok: true,
        hops: built.hops,
        outputs: built.outputs,
        changes: [...r.changes],
        fuel: r.fuel,
        ms,
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
  if (sandbox) controls.after(sandbox, m.controls, pulses.length, controlFailed);
  priority.observe(batchFuel(outcomes, started?.limits.fuelPerCall ?? 0), outcomes.length);
  const packed = encodeOutcomes(outcomes);
  post({ type: "results", id: m.id, packed }, [packed]);
};

// Messages posted before this module finished evaluating (its imports await) may be lost:
// the node waits for this before it sends anything.
post({ type: "ready" });
