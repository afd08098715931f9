/**
 * Operators in the node's `/metrics`: counters folded from each operator's figures at
 * render (the hot path keeps plain numbers), a status gauge, and the `handle` latency
 * histogram rendered from its cumulative buckets.
 * @module
 */
import client from "prom-client";
import type { NodeMetrics } from "../runtime/telemetry/mod.ts";
import type { OperatorHost } from "./host.ts";
import type { OperatorStatusName } from "./host_types.ts";
import { HANDLE_BUCKETS_S } from "./stats.ts";

const STATUSES: readonly OperatorStatusName[] = [
  "running",
  "quarantined",
  "stopped",
  "standby",
];

/** Registers the operator metric families on `metrics`, read from `host` at each render. */
export function registerOperatorMetrics(metrics: NodeMetrics, host: OperatorHost): void {
  const registers = [metrics.registry];
  const counter = (name: string, help: string, labelNames: string[] = ["operator"]) =>
    new client.Counter({ name, help, labelNames, registers });
  const pulsesIn = counter("arqon_operator_pulses_in_total", "Input pulses handed to handle.");
  const pulsesOut = counter(
    "arqon_operator_pulses_out_total",
    "Output pulses accepted by the bus.",
  );
  const failures = counter(
    "arqon_operator_failures_total",
    "Failed input pulses by kind (fuel_exhausted, memory_cap, unreachable, trap, bad_result, refused, commit, worker, ...).",
    ["operator", "kind"],
  );
  const fuel = counter("arqon_operator_fuel_total", "Fuel used by successful handle calls.");
  const hopDrops = counter(
    "arqon_operator_hop_drops_total",
    "Output pulses dropped at the hop limit.",
  );
  const status = new client.Gauge({
    name: "arqon_operator_status",
    help: "1 for the operator's current status (running, quarantined, stopped), else 0.",
    labelNames: ["operator", "status"],
    registers,
  });
  metrics.onCollect(() => {
    for (const m of [pulsesIn, pulsesOut, failures, fuel, hopDrops]) m.reset();
    status.reset();
    for (const { name, status: now, stats } of host.figures()) {
      const c = stats.counters;
      const op = { operator: name };
      pulsesIn.inc(op, c.pulsesIn);
      pulsesOut.inc(op, c.pulsesOut);
      fuel.inc(op, c.fuelUsed);
      hopDrops.inc(op, c.hopDrops);
      for (const [kind, n] of stats.failuresByKind) failures.inc({ operator: name, kind }, n);
      for (const s of STATUSES) status.set({ operator: name, status: s }, s === now ? 1 : 0);
    }
  });
  const histogram = {
    name: "arqon_operator_handle_seconds",
    help: "Time one handle call takes, in the operator's worker.",
    type: "histogram",
    aggregator: "sum",
    get() {
      const values: {
        value: number;
        labels: Record<string, string | number>;
        metricName: string;
      }[] = [];
      for (const { name, stats } of host.figures()) {
        let cumulative = 0;
        for (let i = 0; i <= HANDLE_BUCKETS_S.length; i++) {
          cumulative += stats.buckets[i];
          values.push({
            metricName: `${this.name}_bucket`,
            labels: {
              operator: name,
              le: i < HANDLE_BUCKETS_S.length ? HANDLE_BUCKETS_S[i] : "+Inf",
            },
            value: cumulative,
          });
        }
        values.push({
          metricName: `${this.name}_sum`,
          labels: { operator: name },
          value: stats.latencySum,
        });
        values.push({
          metricName: `${this.name}_count`,
          labels: { operator: name },
          value: cumulative,
        });
      }
      return {
        name: this.name,
        help: this.help,
        type: this.type,
        aggregator: this.aggregator,
        values,
      };
    },
  };
  // A custom collector: prom-client's Histogram cannot be set from bucket counts.
  metrics.registry.registerMetric(histogram as unknown as client.Metric);
}
