/**
 * Latency lanes under a flood (issue 16, benchmark a): the p99 of a `critical` 1→1 stream
 * at 1,000 pulses/s while a `bulk` stream floods the same publisher connection and the
 * same subscriber, against the same critical stream alone, in one run. A third phase
 * runs the flood with every pulse in the normal lane, to show what lanes change.
 *
 * The node runs as its own process (CPU 1 when pinning works); this process (CPU 0)
 * holds the publisher and the subscriber, so both ends of a pulse read one clock.
 *
 *   deno run -A bench/agents/lanes.ts [--seconds 5] [--rounds 3] [--bulk-window-kb 64] [--no-pin]
 *
 * The three phases take turns for `--rounds` rounds (default 3), so that a burst of load on
 * this shared machine falls on one phase of one round, not on one phase's only figure;
 * each phase's p99 is the middle of its rounds. Prints one line per phase and round, the
 * medians, and a final JSON line. The target: critical p99 under the flood at most 2x its
 * p99 alone.
 * @module
 */
import { parseArgs } from "node:util";
import { ArqonClient } from "../../mod.ts";
import { CAN_PIN, SERVER_CPU, startNodeProcess } from "../support.ts";
import { helpFromHeader } from "../../scripts/task_cli.ts";

helpFromHeader(import.meta.url); // `--help`: the usage above, exit 0

/** What one phase measured. */
export interface PhaseResult {
  /** Critical pulses received in the measured window. */
  readonly received: number;
  /** Critical pulses due in the measured window. */
  readonly expected: number;
  /** Publish-to-delivery latency of the critical stream, ms. */
  readonly p50Ms: number;
  /** Publish-to-delivery latency of the critical stream, ms. */
  readonly p99Ms: number;
  /** Bulk pulses delivered per second (0 without the flood). */
  readonly bulkPerSecond: number;
}

/** How a phase runs. */
export interface PhaseOptions {
  /** Node WebSocket URL. */
  readonly wsUrl: string;
  /** Measured seconds (after one second of warm-up). */
  readonly seconds: number;
  /** Run the bulk flood beside the critical stream. */
  readonly flood: boolean;
  /** Lane numbers: critical stream and flood (2 and 3; 1 and 1 for "no lanes"). */
  readonly lanes: { readonly critical: number; readonly bulk: number };
  /**
   * Bulk bytes the publisher has in flight before it waits for a round trip (its
   * pacing, like `nats bench`'s flush window).
   * @default {65536}
   */
  readonly bulkWindowBytes?: number;
}

const RATE = 1000;
const BULK_PAYLOAD = 1024;

/** Runs one phase on fresh connections and returns its figures. */
export async function runPhase(o: PhaseOptions): Promise<PhaseResult> {
  const pub = await ArqonClient.connect(o.wsUrl, { name: "lanes-pub", noDelay: true });
  const sub = await ArqonClient.connect(o.wsUrl, { name: "lanes-sub", noDelay: true });
  const latencies: number[] = [];
  let measuring = false;
  // Pulses count by when they were sent: one sent in the warm-up is not measured.
  let measureFrom = Infinity;
  let bulkSeen = 0;
  const s = sub.subscribe("lanesbench.>", {
    onPulse: (p) => {
      if (p.topic === "lanesbench.bulk") {
        if (measuring) bulkSeen++;
        return;
      }
      const b = p.payload!;
      const sentAt = new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
      if (sentAt >= measureFrom) latencies.push(performance.now() - sentAt);
    },
  });
  await s.ready;

  let stop = false;
  const window = o.bulkWindowBytes ?? 65536;
  const flood = (async () => {
    if (!o.flood) return;
    const payload = new Uint8Array(BULK_PAYLOAD);
    const options = { ack: "none" as const, pulse: { lane: o.lanes.bulk } };
    // Two round trips in flight, each after `window / 2` bytes: the flood goes as fast as
    // the node takes it, with a bounded amount of it ahead of any critical pulse.
    const inFlight: Promise<void>[] = [];
    while (!stop) {
      for (let sent = 0; sent < window / 2; sent += BULK_PAYLOAD) {
        pub.publish("lanesbench.bulk", payload, options);
      }
      inFlight.push(pub.flush());
      if (inFlight.length >= 2) await inFlight.shift();
    }
    await Promise.all(inFlight);
  })();

  const critical = new Uint8Array(64);
  const view = new DataView(critical.buffer);
  const criticalOptions = { ack: "none" as const, pulse: { lane: o.lanes.critical } };
  const start = performance.now();
  const warmup = 1000;
  measureFrom = start + warmup;
  const end = start + warmup + o.seconds * 1000;
  let due = 0;
  let expected = 0;
  while (performance.now() < end) {
    const now = performance.now();
    measuring = now >= start + warmup;
    const target = Math.floor(((now - start) / 1000) * RATE);
    for (; due < target; due++) {
      const sentAt = performance.now();
      view.setFloat64(0, sentAt, true);
      pub.publish("lanesbench.critical", critical, criticalOptions);
      if (sentAt >= measureFrom) expected++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  measuring = false;
  stop = true;
  await flood;
  await new Promise((r) => setTimeout(r, 300));
  await pub.close();
  await sub.close();
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.floor(q * (latencies.length - 1))] ?? NaN;
  return {
    received: latencies.length,
    expected,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    bulkPerSecond: Math.round(bulkSeen / o.seconds),
  };
}

/** One phase's figures on one line. */
function line(name: string, r: PhaseResult): string {
  return `${name.padEnd(36)} p50 ${r.p50Ms.toFixed(3)} ms  p99 ${r.p99Ms.toFixed(3)} ms  ` +
    `(${r.received}/${r.expected} critical)  bulk ${r.bulkPerSecond.toLocaleString()}/s`;
}

/** The round whose p99 is the middle one (the lower middle of an even count). */
function middle(rounds: PhaseResult[]): PhaseResult {
  const sorted = [...rounds].sort((a, b) => a.p99Ms - b.p99Ms);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "5" },
      rounds: { type: "string", default: "3" },
      "bulk-window-kb": { type: "string", default: "64" },
      "no-pin": { type: "boolean", default: false },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Math.max(1, Number(values.rounds));
  const bulkWindowBytes = Number(values["bulk-window-kb"]) * 1024;
  const pin = !values["no-pin"] && CAN_PIN;
  const node = await startNodeProcess(["--memory"], pin ? SERVER_CPU : null);
  if (pin) {
    // This process is the load: CPU 0, away from the node.
    await new Deno.Command("taskset", { args: ["-pc", "0", String(Deno.pid)], stdout: "null" })
      .output();
  }
  const phases: [string, PhaseOptions][] = [
    ["critical alone", {
      wsUrl: node.wsUrl,
      seconds,
      flood: false,
      lanes: { critical: 2, bulk: 3 },
    }],
    ["critical + bulk flood", {
      wsUrl: node.wsUrl,
      seconds,
      flood: true,
      lanes: { critical: 2, bulk: 3 },
      bulkWindowBytes,
    }],
    ["no lanes: same streams, all normal", {
      wsUrl: node.wsUrl,
      seconds,
      flood: true,
      lanes: { critical: 1, bulk: 1 },
      bulkWindowBytes,
    }],
  ];
  const results: Record<string, PhaseResult[]> = {};
  try {
    console.log(
      `critical 1→1 at ${RATE}/s, 64 B; bulk flood of ${BULK_PAYLOAD} B pulses on the same ` +
        `connection and subscriber (window ${bulkWindowBytes / 1024} KiB); ${seconds} s each, ` +
        `${rounds} rounds with the phases taking turns, ${
          pin ? `node on CPU ${SERVER_CPU}, load on CPU 0` : "unpinned"
        }`,
    );
    for (let round = 1; round <= rounds; round++) {
      for (const [name, options] of phases) {
        const r = await runPhase(options);
        (results[name] ??= []).push(r);
        console.log(`round ${round}: ${line(name, r)}`);
      }
    }
    const medians: Record<string, PhaseResult> = {};
    for (const [name] of phases) {
      medians[name] = middle(results[name]);
      console.log(`median:  ${line(name, medians[name])}`);
    }
    const alone = medians["critical alone"].p99Ms;
    const flooded = medians["critical + bulk flood"].p99Ms;
    const ratio = flooded / alone;
    console.log(
      `critical p99 under the flood / alone (medians of ${rounds} rounds): ${
        ratio.toFixed(2)
      }x (target <= 2x: ${ratio <= 2 ? "met" : "NOT met"}; load average ${
        Deno.loadavg().map((x) => x.toFixed(1)).join(" ")
      })`,
    );
    console.log(
      JSON.stringify({ bench: "lanes", seconds, rounds, bulkWindowBytes, ratio, medians, results }),
    );
  } finally {
    await node.stop();
  }
}
