/// <reference lib="dom" />
/**
 * Traffic views: the summary figures, realities with live rates, topics, and connections
 * with their subscriptions' queue depth and drops.
 * @module
 */
import { type Child, fill, fmt, h, num, table } from "./dom.ts";
import type { Connections, RealityInfo } from "./model.ts";
import { type Metrics, sumBy, total } from "./prom.ts";
import type { RateWindow } from "./rates.ts";

/** Published and delivered counters per reality, as the rate window keys them. */
export function trafficCounters(metrics: Metrics): Map<string, number> {
  const out = new Map<string, number>();
  for (const [r, v] of sumBy(metrics, "arqon_pulses_published_total", "reality")) {
    out.set(`pub:${r}`, v);
  }
  for (const [r, v] of sumBy(metrics, "arqon_pulses_delivered_total", "reality")) {
    out.set(`del:${r}`, v);
  }
  out.set("pub", total(metrics, "arqon_pulses_published_total"));
  out.set("del", total(metrics, "arqon_pulses_delivered_total"));
  out.set("deny", total(metrics, "arqon_policy_denials_total"));
  return out;
}

/** The realities the node knows: its registry, and those with traffic in the metrics. */
export function realityNames(metrics: Metrics, realities: readonly RealityInfo[]): string[] {
  const names = new Set(realities.map((r) => r.name));
  for (const r of sumBy(metrics, "arqon_pulses_published_total", "reality").keys()) names.add(r);
  return [...names].sort();
}

/** The figures at the top of the page. */
export function renderSummary(metrics: Metrics, rates: RateWindow): void {
  const card = (label: string, value: string, testid: string, raw: number) =>
    h(
      "div",
      { class: "card" },
      h("div", { class: "label" }, label),
      h("div", { class: "value", "data-testid": testid, "data-value": raw }, value),
    );
  const pub = rates.latest("pub");
  const del = rates.latest("del");
  const denials = total(metrics, "arqon_policy_denials_total");
  fill(
    "summary",
    card("publish / s", fmt(pub, 1), "total-publish-rate", pub),
    card("delivery / s", fmt(del, 1), "total-delivery-rate", del),
    card(
      "connections",
      fmt(total(metrics, "arqon_connections")),
      "connections",
      total(metrics, "arqon_connections"),
    ),
    card(
      "subscriptions",
      fmt(total(metrics, "arqon_subscriptions")),
      "subscriptions",
      total(metrics, "arqon_subscriptions"),
    ),
    card(
      "queued",
      fmt(total(metrics, "arqon_subscriber_queue_messages")),
      "queued",
      total(metrics, "arqon_subscriber_queue_messages"),
    ),
    card("policy denials", fmt(denials), "policy-denials", denials),
  );
}

/** The realities table. */
export function renderRealities(
  metrics: Metrics,
  realities: readonly RealityInfo[],
  rates: RateWindow,
): void {
  const info = new Map(realities.map((r) => [r.name, r]));
  const published = sumBy(metrics, "arqon_pulses_published_total", "reality");
  const delivered = sumBy(metrics, "arqon_pulses_delivered_total", "reality");
  const queued = sumBy(metrics, "arqon_reality_queue_messages", "reality");
  const dropped = sumBy(metrics, "arqon_deliveries_dropped_total", "reality");
  const rows = realityNames(metrics, realities).map((name) => {
    const r = info.get(name);
    return [
      name,
      num(rates.latest(`pub:${name}`), 1, `publish-rate-${name}`),
      num(rates.latest(`del:${name}`), 1, `delivery-rate-${name}`),
      num(published.get(name) ?? 0),
      num(delivered.get(name) ?? 0),
      num(queued.get(name) ?? 0),
      num(dropped.get(name) ?? 0),
      r ? num(r.lastSequence) : "-",
      r ? num(r.storedPulses) : "-",
      r ? `${r.config.retention?.length ?? 0} rule(s)` : "no registry entry",
    ];
  });
  fill(
    "realities",
    table(
      [
        "reality",
        "publish/s",
        "deliver/s",
        "published",
        "delivered",
        "queued",
        "dropped",
        "last stored seq",
        "stored",
        "retention",
      ],
      rows,
      "no reality yet",
    ),
  );
}

/** Topics seen by the inspector: (reality, topic) -> count and last sequence. */
export type SeenTopics = Map<
  string,
  { reality: string; topic: string; count: number; lastSeq: string; at: number }
>;

/** Subscribed patterns (from the connections view) and topics the inspector saw. */
export function renderTopics(connections: Connections | null, seen: SeenTopics): void {
  const patterns = new Map<
    string,
    { reality: string; pattern: string; subs: number; queued: number; dropped: number }
  >();
  for (const c of connections?.connections ?? []) {
    for (const s of c.subscriptions) {
      const key = `${s.reality}\u0000${s.pattern}`;
      const p = patterns.get(key) ??
        { reality: s.reality, pattern: s.pattern, subs: 0, queued: 0, dropped: 0 };
      p.subs++;
      p.queued += s.queued;
      p.dropped += s.dropped;
      patterns.set(key, p);
    }
  }
  const subscribed = [...patterns.values()]
    .sort((a, b) => a.reality.localeCompare(b.reality) || a.pattern.localeCompare(b.pattern))
    .map((p) => [p.reality, h("code", {}, p.pattern), num(p.subs), num(p.queued), num(p.dropped)]);
  const observed = [...seen.values()]
    .sort((a, b) => b.at - a.at)
    .slice(0, 100)
    .map((
      t,
    ) => [
      t.reality,
      h("code", {}, t.topic),
      num(t.count),
      t.lastSeq,
      new Date(t.at).toLocaleTimeString(),
    ]);
  fill(
    "topics",
    h("h3", {}, "Subscribed patterns"),
    table(
      ["reality", "pattern", "subscribers", "queued", "dropped"],
      subscribed,
      "no subscription",
    ),
    h("h3", {}, "Topics seen by the inspector"),
    table(
      ["reality", "topic", "pulses", "last seq", "last seen"],
      observed,
      "start the inspector to see topics",
    ),
  );
}

function age(ms: number | undefined): string {
  if (ms === undefined) return "-";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

/** Connections, each followed by its subscriptions. */
export function renderConnections(connections: Connections | null, problem?: string): void {
  if (!connections) {
    fill("connections", h("p", { class: "muted" }, problem ?? "loading"));
    return;
  }
  const rows: Child[][] = [];
  for (const c of connections.connections) {
    rows.push([
      h("strong", {}, c.id),
      c.transport,
      c.remote || "-",
      c.subject ?? "-",
      age(c.openedAtMs),
      num(c.subscriptions.length),
      num(c.queued, 0, `queued-${c.id}`),
      num(c.dropped, 0, `dropped-${c.id}`),
    ]);
    for (const s of c.subscriptions) {
      rows.push([
        h(
          "td",
          { class: "sub", colspan: 5 },
          `↳ #${s.id} ${s.reality} `,
          h("code", {}, s.pattern),
          s.queueGroup ? ` (group ${s.queueGroup})` : "",
          ` · ${s.overflow}`,
          s.credits === null ? "" : ` · credits ${s.credits}`,
        ),
        h("td", { class: "num" }, `${fmt(s.queued)} / ${fmt(s.maxMessages)}`),
        num(s.queued),
        num(s.dropped),
      ]);
    }
  }
  const note = connections.truncated
    ? h(
      "p",
      { class: "muted" },
      `showing ${connections.connections.length} of ${connections.total}`,
    )
    : null;
  fill(
    "connections",
    table(
      ["connection", "transport", "remote", "subject", "age", "subs (queue)", "queued", "dropped"],
      rows,
      "no connection",
    ),
    note,
  );
}
