/**
 * The load processes of `bench/operators_bench.ts`, each its own Deno process (pinned to the
 * load CPU) so that no client shares an event loop with the node. Every role prints one JSON
 * line at the end; a role that loses or corrupts an output exits non-zero after printing.
 *
 *   external <url> <reality>                  the "external service": subscribe to nums.>,
 *                                             keep the running sum, publish sums.total
 *   paced <url> <reality> <mode> <rate> <seconds> <warmup>
 *                                             publish at a fixed rate, measure p50/p99 of
 *                                             the matching outputs (mode `sum`: nums.in ->
 *                                             sums.total; mode `plain`: plain.msg -> itself)
 *   window <url> <reality> <seconds> <warmup> <window>
 *                                             nums.in -> sums.total as fast as outputs come
 *                                             back, at most <window> pulses in flight
 *   feed <url> <reality> <window>             keep <window> pulses in flight on burn.in ->
 *                                             burn.out until stdin closes
 * @module
 */
import { ArqonClient } from "../../mod.ts";
import type { IPulse } from "../../runtime/protocol/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The value of input `i`: small integers, so sums stay exact. */
export const valueOf = (i: number): number => (i % 97) + 1;

/** The input pulse `i` of the sum computation (and of plain pub/sub). */
export function inputPayload(i: number): Uint8Array {
  return enc.encode(`{"i":${i},"v":${valueOf(i)}}`);
}

/** What the sum computation emits for an input (the operator and the external service). */
export interface SumOutput {
  sum: number;
  i: number;
}

const connect = (url: string, name: string) =>
  ArqonClient.connect(url, { name, noDelay: true, reconnect: false });

/**
 * Checks each output against the inputs: every index once, sums equal to the prefix sums
 * from the first output on (the operator's state may hold a sum from an earlier run).
 * `received` below the number of inputs after the drain means outputs were lost.
 */
export class OutputCheck {
  readonly seen: Uint8Array;
  received = 0;
  duplicates = 0;
  badSums = 0;
  /** Outputs that answer no input of this run (no index, or out of range). */
  foreign = 0;
  #base: number | null = null;
  readonly #prefix: Float64Array;
  readonly #sums: boolean;

  /** For `total` inputs; `sums`: the outputs are running sums to check. */
  constructor(total: number, sums: boolean) {
    this.seen = new Uint8Array(total);
    this.#sums = sums;
    this.#prefix = new Float64Array(sums ? total : 0);
    let acc = 0;
    for (let i = 0; i < this.#prefix.length; i++) this.#prefix[i] = acc += valueOf(i);
  }

  /** Records output `p`; returns its input index, or -1 when it is not one of ours or seen. */
  take(p: IPulse): number {
    const out = JSON.parse(dec.decode(p.payload!)) as SumOutput;
    const i = out.i;
    if (!(Number.isInteger(i) && i >= 0 && i < this.seen.length)) {
      this.foreign++;
      return -1;
    }
    if (this.seen[i]) {
      this.duplicates++;
      return -1;
    }
    this.seen[i] = 1;
    this.received++;
    if (this.#sums) {
      this.#base ??= out.sum - this.#prefix[i];
      if (out.sum - this.#prefix[i] !== this.#base) this.badSums++;
    }
    return i;
  }

  /** No duplicate, foreign output or wrong sum so far. */
  get ok(): boolean {
    return this.duplicates === 0 && this.badSums === 0 && this.foreign === 0;
  }

  /** The verdict of a run that sent `sent` inputs: all answered, once, correctly. */
  passed(sent: number): boolean {
    return this.ok && this.received === sent;
  }
}

/**
 * Waits until `count()` reaches `target`, as long as it keeps growing: a node that fell behind
 * the schedule still delivers its backlog (slow, not lost); no progress for `stallMs` (or 60 s
 * in all) ends the wait, and whatever is missing then counts as lost.
 */
async function drain(count: () => number, target: number, stallMs = 2000): Promise<void> {
  const end = performance.now() + 60_000;
  let last = count();
  let lastAt = performance.now();
  while (count() < target && performance.now() < end && performance.now() - lastAt < stallMs) {
    await new Promise((r) => setTimeout(r, 5));
    if (count() !== last) {
      last = count();
      lastAt = performance.now();
    }
  }
}

function topics(mode: string): { input: string; output: string } {
  return mode === "plain"
    ? { input: "plain.msg", output: "plain.msg" }
    : { input: "nums.in", output: "sums.total" };
}

/** The external service: what users run today, with the same client the bench uses. */
async function external(url: string, reality: string): Promise<void> {
  const client = await connect(url, "external-sum");
  let sum = 0;
  let handled = 0;
  const sub = client.subscribe("nums.>", {
    reality,
    onPulse: (p) => {
      const input = JSON.parse(dec.decode(p.payload!)) as { i: number; v: number };
      sum += input.v;
      handled++;
      const out: SumOutput = { sum, i: input.i };
      client.publish("sums.total", JSON.stringify(out), {
        reality,
        ack: "none",
        contentType: "application/json",
      });
    },
  });
  await sub.ready;
  console.log("ready");
  for await (const _ of Deno.stdin.readable) { /* until the bench closes our stdin */ }
  console.log(JSON.stringify({ handled }));
  await client.close();
}

/** Paced: `rate` inputs/s for `warmup + seconds`; latency of outputs after the warm-up. */
async function paced(
  url: string,
  reality: string,
  mode: string,
  rate: number,
  seconds: number,
  warmup: number,
): Promise<boolean> {
  const { input, output } = topics(mode);
  const total = Math.ceil(rate * (warmup + seconds));
  const sentAt = new Float64Array(total);
  const check = new OutputCheck(total, mode === "sum");
  const latencies: number[] = [];
  let lastAt = 0;
  const measureFrom = Math.floor(rate * warmup);
  const pub = await connect(url, "bench-pub");
  const subClient = await connect(url, "bench-sub");
  const sub = subClient.subscribe(output, {
    reality,
    onPulse: (p) => {
      const i = check.take(p);
      lastAt = performance.now();
      if (i >= measureFrom) latencies.push(performance.now() - sentAt[i]);
    },
  });
  await sub.ready;
  const start = performance.now();
  let due = 0;
  while (due < total) {
    // Publish whatever the schedule says is due, then sleep to the next millisecond.
    const target = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    for (; due < target; due++) {
      sentAt[due] = performance.now();
      pub.publish(input, inputPayload(due), {
        reality,
        ack: "none",
        contentType: "application/json",
      });
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const published = performance.now();
  await drain(() => check.received, total);
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.floor(q * (latencies.length - 1))] ?? NaN;
  console.log(JSON.stringify({
    sent: total,
    received: check.received,
    duplicates: check.duplicates,
    foreign: check.foreign,
    badSums: check.badSums,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    // Time from the last publish to the last output: > 0.1 s means the rate was not sustained.
    drainMs: Math.max(0, lastAt - published),
  }));
  await pub.close();
  await subClient.close();
  return check.passed(total);
}

/** Closed loop: at most `window` inputs without their output; outputs/s after the warm-up. */
async function windowed(
  url: string,
  reality: string,
  seconds: number,
  warmup: number,
  window: number,
): Promise<boolean> {
  // Generous: more than the node could take in the time.
  const capacity = Math.ceil((warmup + seconds) * 400_000);
  const check = new OutputCheck(capacity, true);
  const pub = await connect(url, "bench-pub");
  const subClient = await connect(url, "bench-sub");
  let sent = 0;
  let open = true;
  const topUp = () => {
    while (open && sent - check.received < window && sent < capacity) {
      pub.publish("nums.in", inputPayload(sent++), {
        reality,
        ack: "none",
        contentType: "application/json",
      });
    }
  };
  const sub = subClient.subscribe("sums.total", {
    reality,
    onPulse: (p) => {
      check.take(p);
      topUp();
    },
  });
  await sub.ready;
  topUp();
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const r0 = check.received;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const r1 = check.received;
  const t1 = performance.now();
  open = false;
  await drain(() => check.received, sent);
  console.log(JSON.stringify({
    sent,
    received: check.received,
    duplicates: check.duplicates,
    foreign: check.foreign,
    badSums: check.badSums,
    perSecond: Math.round((r1 - r0) / ((t1 - t0) / 1000)),
  }));
  await pub.close();
  await subClient.close();
  return check.passed(sent);
}

/** Keeps the fuel-hungry operator busy: `window` pulses in flight until stdin closes. */
async function feed(url: string, reality: string, window: number): Promise<void> {
  const client = await connect(url, "bench-feed");
  let sent = 0;
  let received = 0;
  let open = true;
  const payload = enc.encode('{"burn":true}');
  const topUp = () => {
    while (open && sent - received < window) {
      client.publish("burn.in", payload, { reality, ack: "none" });
      sent++;
    }
  };
  let first: () => void;
  const firstOutput = new Promise<void>((r) => first = r);
  const sub = client.subscribe("burn.out", {
    reality,
    onPulse: () => {
      received++;
      first();
      topUp();
    },
  });
  await sub.ready;
  topUp();
  await firstOutput;
  console.log("ready");
  for await (const _ of Deno.stdin.readable) { /* until the bench closes our stdin */ }
  open = false;
  console.log(JSON.stringify({ sent, received }));
  await client.close();
}

/** Runs the role named by `args[0]`; the process exits 1 when outputs were lost or wrong. */
export async function runRole(args: string[]): Promise<never> {
  const [role, url, reality, a, b, c, d] = args;
  let ok = true;
  if (role === "external") await external(url, reality);
  else if (role === "paced") ok = await paced(url, reality, a, +b, +c, +d);
  else if (role === "window") ok = await windowed(url, reality, +a, +b, +c);
  else if (role === "feed") await feed(url, reality, +a);
  else throw new Error(`unknown role ${role}`);
  Deno.exit(ok ? 0 : 1);
}

if (import.meta.main) await runRole(Deno.args);
