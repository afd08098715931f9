import assert from "node:assert/strict";
import client from "prom-client";
import { testPolicyComponent } from "./build/mod.ts";
import { blankInput } from "./evaluate.ts";
import { builtinComponent, CasilMetrics, loadPolicy, PolicyEngine, PolicySandbox } from "./mod.ts";
import { Engine } from "../runtime/sandbox/mod.ts";
import type { arqon } from "../runtime/protocol/mod.ts";
import type { GuardVerdict } from "../runtime/spine/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function pulse(topic: string, payload: string): arqon.v1.IPulse {
  // As the Spine hands it to the guard: reality and producer resolved.
  return { topic, realityId: "default", producerId: "p1", payload: enc.encode(payload) };
}

async function count(registry: client.Registry, name: string, policy: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values.find((v) => v.labels.policy === policy)?.value ?? 0;
}

/** Each verdict as text: `ok`, `ok:<redacted payload>` or `denied:<reason>`. */
function show(v: GuardVerdict): string {
  if (!v.allow) return `denied:${v.reason}`;
  return v.payload ? `ok:${dec.decode(v.payload)}` : "ok";
}

/** Decides `pulses` ahead (one message), then inspects each as the Spine does. */
function ahead(engine: PolicyEngine, pulses: arqon.v1.IPulse[]): string[] {
  engine.inspectAhead(pulses, pulses.length, "p1");
  try {
    return pulses.map((p) => show(engine.inspect(p)));
  } finally {
    engine.clearAhead();
  }
}

async function hazardsEngine(fuelPerCall = 10_000_000) {
  const registry = new client.Registry();
  const engine = new PolicyEngine({
    log: () => {},
    metrics: new CasilMetrics(registry),
    limits: { fuelPerCall, memoryPages: 64 },
  });
  await engine.put("secrets", await builtinComponent("redact_secrets"), {
    binding: { topics: ["mix.>"], order: 1 },
  });
  await engine.put("hazards", await testPolicyComponent("batch_hazards"), {
    binding: { topics: ["mix.>"], order: 2 },
  });
  return { engine, registry };
}

const MIXED = [
  "plain text",
  "mail bob@example.com now",
  "LOOP forever",
  "UPPER key sk-abcdefghijklmnopqrstuvwxyz0123 ok",
  "TRAP here",
  "card 4111 1111 1111 1111 paid",
  "BOMB away",
  "DENY this",
  "",
  "last one",
];

Deno.test("a batch decides each pulse as it is decided alone, in order; failures fail closed", async () => {
  const { engine: single, registry: singleMetrics } = await hazardsEngine();
  const { engine: batched, registry: batchMetrics } = await hazardsEngine();
  const alone = MIXED.map((text) => show(single.inspect(pulse("mix.a", text))));
  const together = ahead(batched, MIXED.map((text) => pulse("mix.a", text)));
  assert.deepEqual(together, alone);
  assert.deepEqual(together, [
    "ok",
    "ok:mail [email] now",
    "denied:policy hazards failed: fuel exhausted (budget 10000000)",
    "ok:UPPER KEY [API-KEY] OK",
    "denied:policy hazards failed: trap: unreachable",
    "ok:card [card] paid",
    `denied:policy hazards failed: memory cap of 64 pages reached (memory access out of bounds)`,
    "denied:hazards: denied mix.a",
    "ok",
    "ok",
  ]);
  // Batches ran (redact_secrets in one call; the hazards' batch failed and was decided
  // again one at a time), and each failing pulse is reported once, as alone.
  assert.equal(await count(batchMetrics, "arqon_policy_batch_calls_total", "secrets"), 1);
  assert.equal(await count(batchMetrics, "arqon_policy_batch_fallbacks_total", "hazards"), 1);
  for (const name of ["arqon_policy_instance_restarts_total", "arqon_policy_evaluations_total"]) {
    assert.equal(
      await count(batchMetrics, name, "hazards"),
      await count(singleMetrics, name, "hazards"),
      name,
    );
  }
  assert.equal(await count(batchMetrics, "arqon_policy_instance_restarts_total", "hazards"), 3);
  // The instance was rebuilt: the next message is decided in batches again.
  assert.deepEqual(ahead(batched, [pulse("mix.b", "a"), pulse("mix.b", "UPPER b")]), [
    "ok",
    "ok:UPPER B",
  ]);
});

Deno.test("a batch shares one call's fuel: no pulse gets more than alone, none gets less", async () => {
  // The fuel one `BURN` pulse uses alone, measured with a large budget.
  const sandboxEngine = new Engine();
  const probe = new PolicySandbox(
    await loadPolicy(sandboxEngine, await testPolicyComponent("batch_hazards"), {
      fuelPerCall: 1e9,
      memoryPages: 64,
    }),
  );
  const fuelOf = (text: string) => {
    const input = blankInput();
    input.payload = enc.encode(text);
    assert.equal(probe.evaluate(input).kind, "allow");
    return probe.lastFuelUsed;
  };
  const one = fuelOf("BURN 20000");
  assert.ok(one > 20000, `a BURN 20000 pulse uses ${one} fuel`);
  // A budget of 1.5 pulses: three such pulses together need twice what a call has, one
  // needing 2.5x (BURN 50000) fails alone, and so it must in a batch too.
  const registry = new client.Registry();
  const engine = new PolicyEngine({
    log: () => {},
    metrics: new CasilMetrics(registry),
    limits: { fuelPerCall: Math.round(one * 1.5), memoryPages: 64 },
  });
  await engine.put("hazards", await testPolicyComponent("batch_hazards"));
  const texts = ["BURN 20000", "BURN 20000", "BURN 50000", "BURN 20000", "calm"];
  const got = ahead(engine, texts.map((t) => pulse("t", t)));
  assert.deepEqual(got.map((v) => v.startsWith("ok") ? "ok" : v.replace(/\(budget \d+\)/, "")), [
    "ok",
    "ok",
    "denied:policy hazards failed: fuel exhausted ",
    "ok",
    "ok",
  ]);
  assert.ok(await count(registry, "arqon_policy_batch_fallbacks_total", "hazards") >= 1);
  assert.equal(await count(registry, "arqon_policy_instance_restarts_total", "hazards"), 1);
  sandboxEngine.close();
});

Deno.test("a policy importing per-pulse host functions is never called in batches", async () => {
  const registry = new client.Registry();
  const engine = new PolicyEngine({ log: () => {}, metrics: new CasilMetrics(registry) });
  // echo_context draws from random-u64: its stream restarts for every pulse.
  await engine.put("echo", await testPolicyComponent("echo_context"), {
    binding: { topics: ["e.>"] },
  });
  const texts = ["a", "b", "c"];
  const alone = texts.map((t) => show(engine.inspect(pulse("e.ok", t))));
  assert.deepEqual(ahead(engine, texts.map((t) => pulse("e.ok", t))), alone);
  assert.equal(await count(registry, "arqon_policy_batch_calls_total", "echo"), 0);
  assert.equal(await count(registry, "arqon_policy_evaluations_total", "echo"), 6);
});

Deno.test("a pulse changed after it was decided ahead is decided again", async () => {
  const { engine } = await hazardsEngine();
  const pulses = [pulse("mix.a", "plain"), pulse("mix.a", "plain too")];
  engine.inspectAhead(pulses, 2, "p1");
  try {
    pulses[1].payload = enc.encode("DENY now");
    assert.equal(show(engine.inspect(pulses[0])), "ok");
    assert.equal(show(engine.inspect(pulses[1])), "denied:hazards: denied mix.a");
  } finally {
    engine.clearAhead();
  }
});
