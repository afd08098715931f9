/**
 * The processes of `bench/circuits_bench.ts`, each its own Deno process (pinned to the load
 * CPU), so that no client shares an event loop with the node. Every role prints one JSON
 * line at the end; a role that loses or misclassifies a frame exits non-zero after printing.
 *
 *   stage <url> <window|features|classify>    one stage of the demo circuit as an external
 *                                             service: subscribe to its input topic, compute
 *                                             what the in-node operator computes, written
 *                                             as plain TypeScript loops (what a user would
 *                                             write), publish its output with the input's
 *                                             trace id; prints `ready`
 *   paced <url> <rate> <seconds> <warmup>     frames at a fixed rate; p50/p99 frame -> class
 *   windowed <url> <seconds> <warmup> <window>
 *                                             frames as fast as classes come back, at most
 *                                             <window> in flight; classes per second
 *
 * Each frame's index rides in its `traceparent` trace id, which every stage (operator or
 * external) keeps; the class of frame i must be the one its synthetic signal has.
 * @module
 */
import { ArqonClient } from "../../mod.ts";
import type { IPulse } from "../../runtime/protocol/mod.ts";
import {
  classifyConfig,
  DEMO_TOPICS,
  DFT_HZ,
  FRAME,
  noiseFrame,
  SAMPLE_RATE,
  toneFrame,
} from "../../operators/circuits/demo.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();
const connect = (url: string, name: string) =>
  ArqonClient.connect(url, { name, noDelay: true, reconnect: false });

/** The frames the load cycles through, with the class each must get. */
const FRAMES: readonly [Uint8Array, string][] = [
  [toneFrame(500), "low_tone"],
  [noiseFrame(1), "noise"],
  [toneFrame(3000), "high_tone"],
  [noiseFrame(2, 0.2), "noise"],
  [toneFrame(750, 0.8), "low_tone"],
  [toneFrame(500, 0.001), "silence"],
];

const PREFIX = "c1a0c000ab12cd34";

/** The traceparent carrying frame index `i`. */
export function traceOf(i: number): string {
  return `00-${PREFIX}${i.toString(16).padStart(16, "0")}-00f067aa0ba902b7-01`;
}

/** The frame index a traceparent carries, or -1. */
export function indexOf(p: IPulse): number {
  const tp = p.traceContext?.traceparent ?? "";
  if (tp.slice(3, 19) !== PREFIX) return -1;
  return parseInt(tp.slice(19, 35), 16);
}

const HAMMING = Float32Array.from(
  { length: FRAME },
  (_, n) => 0.54 - 0.46 * Math.cos(2 * Math.PI * n / FRAME),
);
const COS = DFT_HZ.map((hz) =>
  Float32Array.from({ length: FRAME }, (_, n) => Math.cos(2 * Math.PI * hz * n / SAMPLE_RATE))
);
const SIN = DFT_HZ.map((hz) =>
  Float32Array.from({ length: FRAME }, (_, n) => Math.sin(2 * Math.PI * hz * n / SAMPLE_RATE))
);

/** The `window` stage: the frame times a Hamming window. */
export function windowTs(x: Float32Array): Float32Array {
  const y = new Float32Array(FRAME);
  for (let n = 0; n < FRAME; n++) y[n] = x[n] * HAMMING[n];
  return y;
}

/** The `features` stage: energy, zero-crossing rate, DFT moment and powers. */
export function featuresTs(x: Float32Array): Float32Array {
  let energy = 0, crossings = 0, moment = 0, power = 0, powerSq = 0;
  for (let n = 0; n < FRAME; n++) energy += x[n] * x[n];
  for (let n = 0; n + 1 < FRAME; n++) if ((x[n] < 0) !== (x[n + 1] < 0)) crossings++;
  for (let k = 0; k < DFT_HZ.length; k++) {
    let re = 0, im = 0;
    const c = COS[k], s = SIN[k];
    for (let n = 0; n < FRAME; n++) {
      re += x[n] * c[n];
      im += x[n] * s[n];
    }
    const p = re * re + im * im;
    power += p;
    powerSq += p * p;
    moment += DFT_HZ[k] * p;
  }
  return Float32Array.of(
    energy / FRAME,
    crossings / (FRAME - 1),
    moment,
    power,
    powerSq,
    power * power,
  );
}

/** classify's rules, in TypeScript (the operator's semantics, for the external stage). */
export function classifyTs(floats: Float32Array): string {
  const c = classifyConfig() as {
    features: string[];
    ratios: Record<string, [string, string]>;
    rules: { class: string; when: Record<string, { below?: number; above?: number }> }[];
    default: string;
    to: string;
  };
  const values: Record<string, number> = {};
  c.features.forEach((n, i) => values[n] = Number.isFinite(floats[i]) ? floats[i] : 0);
  for (const [n, [num, den]] of Object.entries(c.ratios)) {
    const v = values[den] === 0 ? 0 : values[num] / values[den];
    values[n] = Number.isFinite(v) ? v : 0;
  }
  let klass = c.default;
  for (const r of c.rules) {
    const holds = Object.entries(r.when).every(([n, b]) =>
      values[n] < (b.below ?? Infinity) && values[n] > (b.above ?? -Infinity)
    );
    if (holds) {
      klass = r.class;
      break;
    }
  }
  return JSON.stringify({ class: klass, values });
}

async function stage(url: string, which: string): Promise<void> {
  const t = DEMO_TOPICS;
  const spec = {
    window: { input: t.frames, output: t.windowed, fn: windowTs },
    features: { input: t.windowed, output: t.features, fn: featuresTs },
    classify: { input: t.features, output: t.classes, fn: null },
  }[which];
  if (!spec) throw new Error(`no stage ${which}`);
  const client = await connect(url, `external-${which}`);
  let handled = 0;
  const sub = client.subscribe(spec.input, {
    onPulse: (p) => {
      const floats = new Float32Array((p.payload ?? new Uint8Array(0)).slice().buffer);
      let out: Uint8Array, type: string;
      if (spec.fn) {
        out = new Uint8Array(spec.fn(floats).buffer);
        type = "application/octet-stream";
      } else {
        out = enc.encode(classifyTs(floats));
        type = "application/json";
      }
      handled++;
      client.publish(spec.output, out, {
        ack: "none",
        contentType: type,
        traceContext: { traceparent: p.traceContext?.traceparent ?? "" },
      });
    },
  });
  await sub.ready;
  console.log("ready");
  for await (const _ of Deno.stdin.readable) { /* until the bench closes our stdin */ }
  console.log(JSON.stringify({ handled }));
  await client.close();
}

/** Checks classes: each frame once, with the class of its signal. */
class ClassCheck {
  readonly seen: Uint8Array;
  received = 0;
  wrong = 0;
  duplicates = 0;
  constructor(total: number) {
    this.seen = new Uint8Array(total);
  }
  take(p: IPulse): number {
    const i = indexOf(p);
    if (i < 0 || i >= this.seen.length || this.seen[i]) {
      this.duplicates++;
      return -1;
    }
    this.seen[i] = 1;
    this.received++;
    const got = JSON.parse(dec.decode(p.payload!)).class;
    if (got !== FRAMES[i % FRAMES.length][1]) this.wrong++;
    return i;
  }
  passed(sent: number) {
    return this.received === sent && this.wrong === 0 && this.duplicates === 0;
  }
}

async function drain(count: () => number, target: number, stallMs = 3000): Promise<void> {
  const end = performance.now() + 60_000;
  let last = count(), lastAt = performance.now();
  while (count() < target && performance.now() < end && performance.now() - lastAt < stallMs) {
    await new Promise((r) => setTimeout(r, 5));
    if (count() !== last) [last, lastAt] = [count(), performance.now()];
  }
}

function send(pub: ArqonClient, i: number): void {
  pub.publish(DEMO_TOPICS.frames, FRAMES[i % FRAMES.length][0], {
    ack: "none",
    contentType: "application/octet-stream",
    traceContext: { traceparent: traceOf(i) },
  });
}

async function paced(url: string, rate: number, seconds: number, warmup: number) {
  const total = Math.ceil(rate * (warmup + seconds));
  const sentAt = new Float64Array(total);
  const check = new ClassCheck(total);
  const latencies: number[] = [];
  const measureFrom = Math.floor(rate * warmup);
  const pub = await connect(url, "bench-pub");
  const subClient = await connect(url, "bench-sub");
  const sub = subClient.subscribe(DEMO_TOPICS.classes, {
    onPulse: (p) => {
      const i = check.take(p);
      if (i >= measureFrom) latencies.push(performance.now() - sentAt[i]);
    },
  });
  await sub.ready;
  const start = performance.now();
  let due = 0;
  while (due < total) {
    const target = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    for (; due < target; due++) {
      sentAt[due] = performance.now();
      send(pub, due);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await drain(() => check.received, total);
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.floor(q * (latencies.length - 1))] ?? NaN;
  console.log(JSON.stringify({
    sent: total,
    received: check.received,
    wrong: check.wrong,
    duplicates: check.duplicates,
    p50: pct(0.5),
    p99: pct(0.99),
  }));
  await pub.close();
  await subClient.close();
  return check.passed(total);
}

async function windowed(url: string, seconds: number, warmup: number, window: number) {
  const capacity = Math.ceil((warmup + seconds) * 200_000);
  const check = new ClassCheck(capacity);
  const pub = await connect(url, "bench-pub");
  const subClient = await connect(url, "bench-sub");
  let sent = 0, open = true;
  const topUp = () => {
    while (open && sent - check.received < window && sent < capacity) send(pub, sent++);
  };
  const sub = subClient.subscribe(DEMO_TOPICS.classes, {
    onPulse: (p) => {
      check.take(p);
      topUp();
    },
  });
  await sub.ready;
  topUp();
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const r0 = check.received, t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const r1 = check.received, t1 = performance.now();
  open = false;
  await drain(() => check.received, sent);
  console.log(JSON.stringify({
    sent,
    received: check.received,
    wrong: check.wrong,
    duplicates: check.duplicates,
    perSecond: Math.round((r1 - r0) / ((t1 - t0) / 1000)),
  }));
  await pub.close();
  await subClient.close();
  return check.passed(sent);
}

if (import.meta.main) {
  const [flag, role, url, ...rest] = Deno.args;
  if (flag !== "--role") throw new Error("usage: load.ts --role <role> <url> ...");
  const n = rest.map(Number);
  let ok = true;
  if (role === "stage") await stage(url, rest[0]);
  else if (role === "paced") ok = await paced(url, n[0], n[1], n[2]);
  else if (role === "windowed") ok = await windowed(url, n[0], n[1], n[2]);
  else throw new Error(`unknown role ${role}`);
  if (!ok) Deno.exit(1);
}
