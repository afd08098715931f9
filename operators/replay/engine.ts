/**
 * The replay engine: re-runs a range of a reality's input journal, as fast as the node can,
 * through fresh instances of the operators the reality has, into a target reality (a fork,
 * or the scratch reality of a verify). Inputs keep their recorded id, time, entropy seed and
 * producer, so every output derives exactly as it did; control-parameter changes are
 * replayed in place, with the caller's overrides winning. Publishing is paced by the
 * operators (at most `WINDOW` inputs ahead of any): their queues never overflow.
 * @module
 */
import type { IPulse } from "../../runtime/protocol/mod.ts";
import {
  CONTROL_SET_TOPIC,
  type ControlParams,
  type DurableLog,
  markReplayed,
  type Spine,
} from "../../runtime/spine/mod.ts";
import type { OperatorHost } from "../host.ts";
import type { OperatorVersion } from "../host_types.ts";
import type { OperatorRunner } from "../runner.ts";
import { encodedOutput } from "../output_bytes.ts";
import { MAX_BATCH } from "../batch_size.ts";
import { countInputs, inputPages, type LogRange } from "./journal.ts";
import type { ReplaySnapshot } from "./snapshots.ts";

/** Thrown by a replay whose signal was aborted (between two inputs). */
export class ReplayCancelled extends Error {
  /** The error. */
  constructor() {
    super("the replay was cancelled");
    this.name = "ReplayCancelled";
  }
}

/** What the engine needs from the node. */
export interface ReplayContext {
  readonly spine: Spine;
  readonly log: DurableLog;
  readonly operators: OperatorHost;
  /** The node's control parameters: a replay from mid-log starts with the set current there. */
  readonly control?: ControlParams;
}

/** One replay's settings. */
export interface ReplaySpec extends LogRange {
  /** The reality the inputs are published into (created by the caller). */
  readonly target: string;
  /** Control parameters overriding the recorded ones (every recorded change keeps them). */
  readonly params?: Readonly<Record<string, unknown>>;
  /** Aborts between two inputs. */
  readonly signal?: AbortSignal;
  /** Told after every page: inputs replayed so far, of `total`. */
  readonly onProgress?: (processed: number, total: number) => void;
  /** Starts from this snapshot: its state and parameters, inputs after its sequence. */
  readonly from?: ReplaySnapshot;
  /** Takes a snapshot every this many inputs (0: none), handed to `onSnapshot`. */
  readonly snapshotEvery?: number;
  readonly onSnapshot?: (snapshot: ReplaySnapshot) => void;
  /**
   * The installs and replacements the source reality had (versions kept by digest): each
   * operator's inputs go to the version that had them live.
   */
  readonly versions?: readonly OperatorVersion[];
}

/** What a replay did. */
export interface ReplayResult {
  readonly inputs: number;
  /** Inputs the bus refused in the target (a policy, a card): counted, not fatal. */
  readonly refused: number;
  /** Operator failures during the replay, as `name: reason`, at most 100 kept. */
  readonly failures: string[];
  /** Operators replayed, with the digest of the component that ran. */
  readonly operators: { name: string; digest: string }[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A recorded control change with the overrides laid over its patch. */
function overridden(payload: Uint8Array, params: Readonly<Record<string, unknown>>): Uint8Array {
  let body: { params?: Record<string, unknown> };
  try {
    body = JSON.parse(decoder.decode(payload));
  } catch {
    return payload; // refused again in the target, as it was in the source
  }
  if (typeof body !== "object" || body === null || typeof body.params !== "object") return payload;
  return encoder.encode(JSON.stringify({ ...body, params: { ...body.params, ...params } }));
}

/** Fields a recorded input may carry whose bytes the hand encoder or the node's stamp writes. */
const ENCODED_FIELDS = new Set([
  "id",
  "sequence",
  "topic",
  "producerId",
  "realityId",
  "timestamp",
  "traceContext",
  "headers",
  "contentType",
  "payload",
  "entropySeed",
  "semtrace",
  "lane",
  "vclock",
  "intentVector",
]);

/**
 * The producer's bytes of a replayed input (topic, headers, trace context, content type,
 * payload, semantic trace, lane: the node's stamp adds id, time, seed and clock), made with
 * the hand encoder instead of a protobufjs encode of each input; undefined when the input
 * carries anything else (spectral metadata, a reply topic, ...): the Spine encodes it then.
 */
function producerBytes(pulse: IPulse): Uint8Array | undefined {
  for (const key of Object.keys(pulse)) {
    if (!ENCODED_FIELDS.has(key)) {
      const v = (pulse as Record<string, unknown>)[key];
      if (v !== undefined && v !== null && v !== "" && v !== false && v !== 0) return undefined;
    }
  }
  if (pulse.intentVector && pulse.intentVector.length > 0) return undefined;
  return encodedOutput({
    topic: pulse.topic,
    realityId: pulse.realityId,
    contentType: pulse.contentType,
    headers: pulse.headers,
    traceContext: pulse.traceContext,
    payload: pulse.payload,
    semtrace: pulse.semtrace,
    lane: pulse.lane,
  });
}

/** The pulse to publish for a recorded input (the node's hop is added again by the Spine). */
function replayed(
  input: IPulse,
  target: string,
  params?: Readonly<Record<string, unknown>>,
): IPulse {
  const pulse: IPulse = { ...input, realityId: target };
  delete pulse.sequence;
  // The last semantic-trace entry is the hop the node appended when it was first published.
  if (pulse.semtrace && pulse.semtrace.length > 0) pulse.semtrace = pulse.semtrace.slice(0, -1);
  if (params && pulse.topic === CONTROL_SET_TOPIC && pulse.payload) {
    pulse.payload = overridden(pulse.payload, params);
  }
  return markReplayed(pulse);
}

/**
 * Most inputs per batch a replay's runners hand their worker: the live cap
 * (operators/batch_size.ts; a batch takes what is queued). All of a replay's inputs are
 * there at once: larger batches cost fewer worker messages, store holds and state commits
 * per input.
 */
export const REPLAY_BATCH = MAX_BATCH;

/** Inputs an operator may be behind a replay's publishing (a few batches). */
export const WINDOW = 2048;

/** Waits until every runner's backlog is under `window`. */
async function below(runners: readonly OperatorRunner[], window: number): Promise<void> {
  while (runners.some((r) => r.backlog > window)) await new Promise((r) => setTimeout(r, 1));
}

/** Waits until no runner has work left (outputs of one may be inputs of another). */
async function settle(runners: readonly OperatorRunner[]): Promise<void> {
  for (let round = 0; round < 1000; round++) {
    let waited = false;
    for (const r of runners) if (await r.settle()) waited = true;
    if (!waited) return;
  }
}

/** Replays `spec`'s range of `spec.reality` into `spec.target`. */
export async function replay(ctx: ReplayContext, spec: ReplaySpec): Promise<ReplayResult> {
  const { spine, log, operators } = ctx;
  const total = await countInputs(log, spec);
  const failures: string[] = [];
  const fail = (name: string, reason: string) => {
    if (failures.length < 100) failures.push(`${name}: ${reason}`);
  };
  const chosen = operators.replayRunners(spec.reality, spec.target, fail);
  // Versions kept by digest: the version of each operator that had the range's first input
  // (none: installed later), then a switch wherever it was replaced.
  const versions = [...(spec.versions ?? [])].sort((a, b) => a.sequence - b.sequence);
  const active = new Map<string, OperatorRunner | null>();
  let versioned = false;
  for (const c of chosen) {
    const events = versions.filter((v) => v.name === c.name);
    const had = events.filter((v) => v.sequence < spec.fromSeq).at(-1);
    if (had && had.digest !== c.digest) {
      active.set(c.name, await operators.replayRunnerOf(had, spec.target, fail));
      versioned = true;
    } else if (!had && events[0]?.created) {
      active.set(c.name, null);
      versioned = true;
    } else active.set(c.name, c.runner);
  }
  const switches = versions.filter((v) => v.sequence >= spec.fromSeq && active.has(v.name));
  if (switches.length > 0) versioned = true;
  const running = () => {
    const list = [...active.values()].filter((r): r is OperatorRunner => r !== null);
    for (const r of list) r.batchSize = REPLAY_BATCH;
    return list;
  };
  const runners = running();
  const digests = Object.fromEntries(chosen.map((c) => [c.name, c.digest]));
  let processed = 0;
  let refused = 0;
  const from = spec.from;
  if (from) {
    // The snapshot's state is committed before the runners start (they load it at init).
    for (const c of chosen) {
      await log.replaceOperatorState(spec.target, c.name, from.state[c.name] ?? []);
    }
    await log.flush();
  }
  const snapshot = async (sequence: number) => {
    await settle(runners);
    await log.flush();
    const outputs: Record<string, number> = {};
    const state: Record<string, [string, Uint8Array][]> = {};
    for (const c of chosen) {
      const producer = `operator:${c.name}`;
      outputs[producer] = (from?.outputs[producer] ?? 0) + c.runner.counters.pulsesOut;
      state[c.name] = log.loadOperatorState(spec.target, c.name);
    }
    spec.onSnapshot!({
      reality: spec.reality,
      sequence,
      digests,
      params: ctx.control?.current(spec.target).params ?? {},
      state,
      outputs,
    });
  };
  try {
    await Promise.all(runners.map((r) => r.start()));
    // From mid-log: the set current there; the overrides hold from the first input on.
    const before = from
      ? from.params
      : spec.fromSeq > 1
      ? ctx.control?.at(spec.reality, spec.fromSeq - 1).params
      : {};
    const initial = { ...before, ...spec.params };
    if (Object.keys(initial).length > 0) {
      const set: IPulse = {
        topic: CONTROL_SET_TOPIC,
        realityId: spec.target,
        payload: encoder.encode(JSON.stringify({ params: initial })),
      };
      await spine.publish(set, `replay:${spec.reality}`);
    }
    spec.onProgress?.(0, total);
    for await (const page of inputPages(log, spec)) {
      for (const input of page) {
        if (spec.signal?.aborted) throw new ReplayCancelled();
        while (switches.length > 0 && switches[0].sequence < Number(input.sequence)) {
          // Replaced here live: the inputs before it were the old version's.
          const next = switches.shift()!;
          await settle(running());
          await active.get(next.name)?.stop();
          const runner = await operators.replayRunnerOf(next, spec.target, fail);
          await runner.start();
          active.set(next.name, runner);
        }
        try {
          const pulse = replayed(input, spec.target, spec.params);
          const accepted = spine.publish(pulse, input.producerId ?? "", producerBytes(pulse));
          if (accepted instanceof Promise) await accepted;
        } catch {
          refused++;
        }
        processed++;
        const every = spec.snapshotEvery ?? 0;
        if (every > 0 && spec.onSnapshot && !versioned && processed % every === 0) {
          await snapshot(Number(input.sequence));
        }
        // Pipelined: publishing goes on while the operators work, at most WINDOW inputs
        // ahead of any of them, so no input queue overflows.
        if ((processed & 255) === 0) await below(running(), WINDOW);
      }
      spec.onProgress?.(processed, total);
    }
    await settle(running());
    await log.flush();
  } finally {
    await Promise.all(running().map((r) => r.stop()));
  }
  return {
    inputs: processed,
    refused,
    failures,
    operators: chosen.map(({ name, digest }) => ({ name, digest })),
  };
}
