/// <reference lib="dom" />
/**
 * Governance views: policies with their verdict counts, operators, circuits and presence
 * (shown when the node has those endpoints), and the audit tail with its verification.
 * @module
 */
import { type Child, fill, h, jsonBlock, num, table } from "./dom.ts";
import type { AuditEntry, AuditVerification, OperatorInfo, PolicyInfo } from "./model.ts";
import { type Metrics, sumBy } from "./prom.ts";

/** Policies, with evaluations, allows, denials (and their reasons) and redactions. */
export function renderPolicies(policies: readonly PolicyInfo[], metrics: Metrics): void {
  const evaluations = sumBy(metrics, "arqon_policy_evaluations_total", "policy");
  const denials = sumBy(metrics, "arqon_policy_denials_total", "policy");
  const redactions = sumBy(metrics, "arqon_policy_redactions_total", "policy");
  const reasons = new Map<string, string[]>();
  for (const s of metrics.get("arqon_policy_denials_total") ?? []) {
    if (!s.value) continue;
    const list = reasons.get(s.labels.policy) ?? [];
    list.push(`${s.labels.reason} ${s.value}`);
    reasons.set(s.labels.policy, list);
  }
  const rows = policies.map((p) => {
    const evaluated = evaluations.get(p.name) ?? 0;
    const denied = denials.get(p.name) ?? 0;
    return [
      h("strong", {}, p.name),
      (p.binding?.realities ?? ["*"]).join(", "),
      h("code", {}, (p.binding?.topics ?? [">"]).join(", ")),
      String(p.binding?.order ?? 100),
      p.available ? "yes" : h("span", { class: "bad" }, `no: ${p.problem ?? "unavailable"}`),
      num(evaluated, 0, `evaluations-${p.name}`),
      num(Math.max(0, evaluated - denied), 0, `allowed-${p.name}`),
      num(denied, 0, `denials-${p.name}`),
      num(redactions.get(p.name) ?? 0),
      (reasons.get(p.name) ?? []).join(", ") || "-",
    ];
  });
  fill(
    "policies",
    table(
      [
        "policy",
        "realities",
        "topics",
        "order",
        "available",
        "evaluated",
        "allowed",
        "denied",
        "redacted",
        "denial reasons",
      ],
      rows,
      "no policy installed",
    ),
  );
}

/** Operators with their state, counters and latency. */
export function renderOperators(operators: readonly OperatorInfo[]): void {
  const rows = operators.map((o) => [
    h("strong", {}, o.name),
    h("span", { class: o.status === "running" ? "good" : "bad" }, o.status),
    o.reality,
    h("code", {}, o.inputs.join(", ")),
    num(o.instances),
    Object.entries(o.counters ?? {}).map(([k, v]) => `${k} ${v}`).join(", ") || "-",
    o.handle_ms ? `${o.handle_ms.p50.toFixed(2)} / ${o.handle_ms.p99.toFixed(2)}` : "-",
    o.reason ?? o.builtin ?? "",
  ]);
  fill(
    "operators",
    table(
      ["operator", "status", "reality", "inputs", "instances", "counters", "p50 / p99 ms", "note"],
      rows,
      "no operator installed",
    ),
  );
}

/** Items of a list answer, whatever its wrapping (`[...]` or `{"<key>": [...]}`). */
export function itemsOf(answer: unknown, key: string): unknown[] {
  if (Array.isArray(answer)) return answer;
  const inner = (answer as Record<string, unknown> | null)?.[key];
  return Array.isArray(inner) ? inner : [];
}

/**
 * Circuits and presence per reality. Each answer is null where the node has no such
 * endpoint (an older node: the section says so instead of failing).
 */
export function renderCircuitsAndPresence(
  circuits: ReadonlyMap<string, unknown | null>,
  presence: ReadonlyMap<string, unknown | null>,
): void {
  const circuitParts: Child[] = [];
  let circuitEndpoint = false;
  for (const [reality, answer] of circuits) {
    if (answer === null) continue;
    circuitEndpoint = true;
    for (const c of itemsOf(answer, "circuits")) {
      const name = typeof c === "string" ? c : String((c as { name?: unknown }).name ?? "?");
      circuitParts.push(h("details", {}, h("summary", {}, `${reality} / ${name}`), jsonBlock(c)));
    }
  }
  fill(
    "circuits",
    ...(circuitParts.length > 0 ? circuitParts : [
      h(
        "p",
        { class: "muted" },
        circuitEndpoint ? "no circuit" : "this node has no circuits endpoint",
      ),
    ]),
  );
  const rows: Child[][] = [];
  let presenceEndpoint = false;
  for (const [reality, answer] of presence) {
    if (answer === null) continue;
    presenceEndpoint = true;
    for (const m of itemsOf(answer, "members")) {
      const { name, ...rest } = m as Record<string, unknown>;
      rows.push([
        reality,
        h("strong", {}, String(name ?? "?")),
        h("code", {}, JSON.stringify(rest)),
      ]);
    }
  }
  fill(
    "presence",
    presenceEndpoint
      ? table(["reality", "member", "details"], rows, "nobody present")
      : h("p", { class: "muted" }, "this node has no presence endpoint"),
  );
}

/** The verification badge and the newest audit entries first. */
export function renderAudit(
  verify: AuditVerification | null,
  entries: readonly AuditEntry[],
): void {
  const badge = verify === null
    ? h("span", { class: "muted" }, "this node keeps no audit log")
    : verify.ok
    ? h(
      "span",
      { class: "good", "data-testid": "audit-state" },
      `chain verified: ${verify.entries} ${verify.entries === 1 ? "entry" : "entries"} intact`,
    )
    : h(
      "span",
      { class: "bad", "data-testid": "audit-state" },
      `chain BROKEN at line ${verify.firstBroken?.line} (seq ${
        verify.firstBroken?.seq ?? "?"
      }): ${verify.firstBroken?.problem}`,
    );
  const rows = [...entries].reverse().map((e) => [
    num(e.seq),
    new Date(e.time).toLocaleString(),
    h("strong", {}, e.action),
    e.actor,
    h("code", {}, JSON.stringify(e.details)),
  ]);
  fill(
    "audit",
    h("p", {}, badge),
    table(["seq", "time", "action", "actor", "details"], rows, "no entry"),
  );
}
