/**
 * Process metrics the node reads itself (prom-client's defaults lean on Node's `process`):
 * CPU seconds, open file descriptors and start time from `/proc/self`, and event-loop lag
 * from a cheap timer-drift monitor.
 * @module
 */
import client from "prom-client";
import type { NodeMetrics } from "./metrics.ts";

/** How often the lag monitor's timer fires, in milliseconds. */
const LAG_INTERVAL_MS = 100;
/** Linux's USER_HZ: `/proc/self/stat` counts CPU time in these ticks. */
const CLOCK_TICKS = 100;

/** A running process monitor; `close` stops its timer. */
export interface ProcessWatch {
  /** Stops the lag timer (the metrics stay registered). */
  close(): void;
}

/**
 * Registers the process metrics on `metrics` and starts the event-loop lag monitor.
 * The monitor is one unref'd timer: a 100 ms interval whose lateness is the lag (a blocked
 * loop fires it late), observed into `arqon_event_loop_lag_seconds` with the maximum since
 * the last scrape in `arqon_event_loop_lag_max_seconds`.
 *
 * @example
 * ```ts
 * import { NodeMetrics } from "./metrics.ts";
 * import { watchProcess } from "./process.ts";
 *
 * const metrics = new NodeMetrics();
 * const watch = watchProcess(metrics);
 * console.log(await metrics.render());
 * watch.close();
 * ```
 */
export function watchProcess(metrics: NodeMetrics): ProcessWatch {
  const registers = [metrics.registry];
  const lag = new client.Histogram({
    name: "arqon_event_loop_lag_seconds",
    help: "Lateness of a 100 ms timer: how long the event loop was busy past its turn.",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const lagMax = new client.Gauge({
    name: "arqon_event_loop_lag_max_seconds",
    help: "Largest event-loop lag seen since the previous scrape.",
    registers,
  });
  const cpu = new client.Counter({
    name: "arqon_process_cpu_seconds_total",
    help: "CPU time of the process (user and system), in seconds.",
    labelNames: ["mode"],
    registers,
  });
  const fds = new client.Gauge({
    name: "arqon_process_open_fds",
    help: "Open file descriptors of the process.",
    registers,
  });
  const start = new client.Gauge({
    name: "arqon_process_start_time_seconds",
    help: "Start time of the node, in seconds since the Unix epoch.",
    registers,
  });
  start.set((Date.now() - performance.now()) / 1000);

  let worst = 0;
  let expected = performance.now() + LAG_INTERVAL_MS;
  const timer = setInterval(() => {
    const now = performance.now();
    const late = Math.max(0, now - expected) / 1000;
    expected = now + LAG_INTERVAL_MS;
    lag.observe(late);
    if (late > worst) worst = late;
  }, LAG_INTERVAL_MS);
  Deno.unrefTimer(timer);

  const reported = { user: 0, system: 0 };
  metrics.onCollect(() => {
    lagMax.set(worst);
    worst = 0;
    const times = cpuSeconds();
    if (times) {
      // A counter only grows: add what the process used since the last render.
      cpu.labels("user").inc(Math.max(0, times.user - reported.user));
      cpu.labels("system").inc(Math.max(0, times.system - reported.system));
      reported.user = Math.max(reported.user, times.user);
      reported.system = Math.max(reported.system, times.system);
    }
    const open = openFds();
    if (open >= 0) fds.set(open);
  });
  return { close: () => clearInterval(timer) };
}

/** User and system CPU seconds from `/proc/self/stat`, or undefined off Linux. */
export function cpuSeconds(): { user: number; system: number } | undefined {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // Fields after the command name (which may hold spaces) start past its last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5): 12 and 13 after the name.
    return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** Open file descriptors (entries of `/proc/self/fd`), or -1 when it cannot be read. */
export function openFds(): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    // The directory handle being read is one of the entries.
    return n - 1;
  } catch {
    return -1;
  }
}
