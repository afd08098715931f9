/// <reference lib="dom" />
/**
 * The dashboard's entry: polls the node's public API (`/metrics` and `/v1/connections`
 * every second, governance every five), keeps the rates of the last minutes and renders
 * every view. With authentication on, calls carry the admin token the user typed in.
 * @module
 */
import { ApiError, AuthError, getJson, getOptional, getText, setToken, token } from "./api.ts";
import { RateChart } from "./chart.ts";
import type {
  AuditEntry,
  AuditVerification,
  Connections,
  OperatorInfo,
  PolicyInfo,
  RealityInfo,
} from "./model.ts";
import { setupInspector } from "./inspector.ts";
import { type Metrics, parseMetrics } from "./prom.ts";
import { RateWindow } from "./rates.ts";
import {
  renderAudit,
  renderCircuitsAndPresence,
  renderOperators,
  renderPolicies,
} from "./views_governance.ts";
import {
  realityNames,
  renderConnections,
  renderRealities,
  renderSummary,
  renderTopics,
  type SeenTopics,
  trafficCounters,
} from "./views_traffic.ts";

const params = new URL(location.href).searchParams;
/** Milliseconds between readings of the traffic (`?every=`, at least 250). */
const EVERY = Math.max(250, Number(params.get("every")) || 1000);
const SLOW_EVERY = Math.max(EVERY, 5000);
/** Realities whose circuits and presence are read (the first, by name). */
const MAX_REALITIES_DETAILED = 20;

const rates = new RateWindow(Math.ceil(300_000 / EVERY));
const seen: SeenTopics = new Map();
let metrics: Metrics = new Map();
let realities: RealityInfo[] = [];
let connections: Connections | null = null;
let policies: PolicyInfo[] = [];
let authWanted = false;

const totals = new RateChart(document.getElementById("chart-totals")!);
const perReality = new RateChart(document.getElementById("chart-realities")!);

function problem(source: string, err: unknown): void {
  if (err instanceof AuthError) return askToken(err);
  const el = document.getElementById("problems")!;
  el.textContent = `${source}: ${
    err instanceof ApiError || err instanceof Error ? err.message : String(err)
  }`;
}

function askToken(err?: AuthError): void {
  authWanted = true;
  const dialog = document.getElementById("auth") as HTMLDialogElement;
  document.getElementById("auth-why")!.textContent = err?.status === 403
    ? "This token does not hold the admin role."
    : token()
    ? "The node refused this token."
    : "This node requires authentication: enter an admin token.";
  if (!dialog.open) dialog.showModal();
}

async function fast(): Promise<void> {
  const [m, r, c] = await Promise.allSettled([
    getText("/metrics"),
    getJson<{ realities: RealityInfo[] }>("/v1/realities"),
    getJson<Connections>("/v1/connections"),
  ]);
  if (m.status === "fulfilled") {
    metrics = parseMetrics(m.value);
    rates.add(Date.now(), trafficCounters(metrics));
  } else problem("metrics", m.reason);
  if (r.status === "fulfilled") realities = r.value.realities;
  else problem("realities", r.reason);
  if (c.status === "fulfilled") connections = c.value;
  else problem("connections", c.reason);
  if ([m, r, c].every((x) => x.status === "fulfilled")) {
    document.getElementById("problems")!.textContent = "";
  }
  renderSummary(metrics, rates);
  renderRealities(metrics, realities, rates);
  renderConnections(connections, c.status === "rejected" ? String(c.reason?.message) : undefined);
  renderTopics(connections, seen);
  renderPolicies(policies, metrics);
  const names = realityNames(metrics, realities);
  totals.update(
    rates.times,
    new Map([
      ["publish", rates.series("pub")],
      ["delivery", rates.series("del")],
      ["policy denials", rates.series("deny")],
    ]),
  );
  perReality.update(
    rates.times,
    new Map(names.slice(0, 8).map((n) => [n, rates.series(`pub:${n}`)])),
  );
}

async function slow(): Promise<void> {
  const names = realityNames(metrics, realities).slice(0, MAX_REALITIES_DETAILED);
  const each = (suffix: string) =>
    Promise.all(
      names.map(async (n) =>
        [
          n,
          await getOptional<unknown>(`/v1/realities/${encodeURIComponent(n)}/${suffix}`).catch(() =>
            null
          ),
        ] as const
      ),
    );
  const [p, o, v, circuits, presence] = await Promise.allSettled([
    getJson<{ policies: PolicyInfo[] }>("/v1/policies"),
    getOptional<OperatorInfo[]>("/v1/operators"),
    getOptional<AuditVerification>("/v1/audit/verify"),
    each("circuits"),
    each("presence"),
  ]);
  if (p.status === "fulfilled") policies = p.value.policies;
  else problem("policies", p.reason);
  if (o.status === "fulfilled") renderOperators(o.value ?? []);
  else problem("operators", o.reason);
  if (v.status === "fulfilled") {
    const verify = v.value;
    let entries: AuditEntry[] = [];
    if (verify && verify.entries > 0) {
      const from = Math.max(1, verify.entries - 19);
      entries = (await getJson<{ entries: AuditEntry[] }>(`/v1/audit?from=${from}&limit=20`)
        .catch((e) => (problem("audit", e), { entries: [] }))).entries;
    }
    renderAudit(verify, entries);
  } else problem("audit", v.reason);
  if (circuits.status === "fulfilled" && presence.status === "fulfilled") {
    renderCircuitsAndPresence(new Map(circuits.value), new Map(presence.value));
  }
  renderPolicies(policies, metrics);
}

/** Runs `fn` every `ms`, never two at once, paused while a token is wanted. */
function every(ms: number, fn: () => Promise<void>): void {
  const run = async () => {
    if (!authWanted) await fn().catch((e) => problem("dashboard", e));
    setTimeout(run, ms);
  };
  run();
}

function setup(): void {
  const dialog = document.getElementById("auth") as HTMLDialogElement;
  const input = document.getElementById("auth-token") as HTMLInputElement;
  document.getElementById("auth-form")!.addEventListener("submit", () => {
    setToken(input.value.trim() || null);
    input.value = "";
    authWanted = false;
  });
  dialog.addEventListener("close", () => authWanted = false);
  document.getElementById("sign-out")!.addEventListener("click", () => {
    setToken(null);
    location.reload();
  });
  getJson<{ nodeId: string; status: string }>("/healthz").then(
    (h) => document.getElementById("node")!.textContent = `${h.nodeId} · ${h.status}`,
    () => {},
  );
  setupInspector(seen, askToken);
  every(EVERY, fast);
  every(SLOW_EVERY, slow);
}

setup();
