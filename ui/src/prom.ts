/**
 * Reads the node's `/metrics` (Prometheus text) into samples the views sum and chart.
 * Parsing is `parse-prometheus-text-format`'s; this file only flattens its families.
 * @module
 */
import parse from "parse-prometheus-text-format";

/** One sample: its labels and value. */
export interface Sample {
  /** Label names to values (empty for none). */
  readonly labels: Readonly<Record<string, string>>;
  /** The sample's value. */
  readonly value: number;
}

/** Metric families by name (counters and gauges; histogram families are left out). */
export type Metrics = ReadonlyMap<string, readonly Sample[]>;

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
}

/** Parses a Prometheus text exposition. */
export function parseMetrics(text: string): Metrics {
  const out = new Map<string, Sample[]>();
  for (const family of parse(text) as Family[]) {
    if (family.type === "HISTOGRAM" || family.type === "SUMMARY") continue;
    out.set(
      family.name,
      family.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) })),
    );
  }
  return out;
}

/** The sum of a family's samples, per value of `label` (samples without it are left out). */
export function sumBy(metrics: Metrics, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of metrics.get(name) ?? []) {
    const key = s.labels[label];
    if (key === undefined) continue;
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** The sum of every sample of a family (0 when absent). */
export function total(metrics: Metrics, name: string): number {
  let n = 0;
  for (const s of metrics.get(name) ?? []) n += s.value;
  return n;
}
