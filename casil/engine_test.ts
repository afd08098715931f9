import assert from "node:assert/strict";
import client from "prom-client";
import { testPolicyComponent } from "./build/mod.ts";
import { builtinComponent, CasilMetrics, PolicyEngine, PolicyError } from "./mod.ts";
import { AuditLog } from "../runtime/telemetry/audit/mod.ts";
import type { arqon } from "../runtime/protocol/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function pulse(topic: string, payload: string, realityId = "default"): arqon.v1.IPulse {
  return { topic, realityId, producerId: "p1", payload: enc.encode(payload), headers: {} };
}

async function counter(registry: client.Registry, name: string, labels: Record<string, string>) {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)
  );
  return value?.value ?? 0;
}

Deno.test("chain order, first deny wins, redaction feeds the rest of the chain", async () => {
  const engine = new PolicyEngine({ log: () => {} });
  // echo_context denies with what it saw, so as the last policy it shows the payload it got.
  await engine.put("upper", await testPolicyComponent("echo_context"), {
    binding: { topics: ["lab.>"], order: 1 },
  });
  await engine.put("redact", await builtinComponent("redact_secrets"), {
    binding: { topics: ["lab.>"], order: 0 },
  });
  assert.deepEqual(engine.chain("default", "lab.x"), ["redact", "upper"]);
  assert.deepEqual(engine.chain("default", "other.x"), []);
  const v = engine.inspect(pulse("lab.x", "mail bob@example.com now"));
  assert.equal(v.allow, false);
  if (v.allow) return;
  assert.equal(v.code, "POLICY_DENIED");
  assert.equal(v.reason, "upper: default|lab.x|p1|||mail [email] now|{}");
  // On `.upper` topics echo_context redacts too: both rewrites apply, in order.
  const u = engine.inspect(pulse("lab.upper", "key sk-abcdefghijklmnopqrstuvwxyz0123 ok"));
  assert.equal(u.allow, true);
  if (!u.allow) return;
  assert.equal(dec.decode(u.payload!), "KEY [API-KEY] OK");
  // Untouched topics pass without a payload replacement.
  assert.deepEqual(engine.inspect(pulse("other.x", "bob@example.com")), { allow: true });
});

Deno.test("bindings select realities and topics", async () => {
  const engine = new PolicyEngine({ log: () => {} });
  await engine.put("cap", await builtinComponent("payload_size_cap"), {
    config: '{"max_bytes": 4}',
    binding: { realities: ["prod"], topics: ["a.*", "b.>"] },
  });
  assert.equal(engine.inspect(pulse("a.x", "12345", "prod")).allow, false);
  assert.equal(engine.inspect(pulse("a.x.y", "12345", "prod")).allow, true);
  assert.equal(engine.inspect(pulse("b.x.y", "12345", "prod")).allow, false);
  assert.equal(engine.inspect(pulse("a.x", "12345", "dev")).allow, true);
  assert.equal(engine.inspect(pulse("a.x", "1234", "prod")).allow, true);
  await engine.bind("cap", { realities: ["*"] });
  assert.equal(engine.inspect(pulse("a.x", "12345", "dev")).allow, false);
});

Deno.test("fail-closed: traps, fuel and memory caps deny and are counted by policy and reason", async () => {
  const registry = new client.Registry();
  const engine = new PolicyEngine({
    log: () => {},
    metrics: new CasilMetrics(registry),
    limits: { fuelPerCall: 1_000_000, memoryPages: 32 },
  });
  await engine.put("loop", await testPolicyComponent("infinite_loop"));
  await engine.put("bomb", await testPolicyComponent("memory_bomb"));
  const loop = engine.inspect(pulse("hostile.loop", ""));
  assert.equal(loop.allow, false);
  if (!loop.allow) assert.match(loop.reason, /^policy loop failed: fuel exhausted/);
  const bomb = engine.inspect(pulse("hostile.bomb", ""));
  assert.equal(bomb.allow, false);
  if (!bomb.allow) assert.match(bomb.reason, /^policy bomb failed: memory cap of 32 pages/);
  // Both policies are still there and other topics pass.
  assert.deepEqual(engine.inspect(pulse("calm.topic", "x")), { allow: true });
  assert.equal(
    await counter(registry, "arqon_policy_denials_total", {
      policy: "loop",
      reason: "fuel_exhausted",
    }),
    1,
  );
  assert.equal(
    await counter(registry, "arqon_policy_denials_total", { policy: "bomb", reason: "memory_cap" }),
    1,
  );
  assert.equal(
    await counter(registry, "arqon_policy_instance_restarts_total", { policy: "loop" }),
    1,
  );
});

Deno.test("rejected uploads leave the installed policy in place", async () => {
  const engine = new PolicyEngine({ log: () => {}, maxUploadBytes: 64 * 1024 });
  await engine.put("p", await builtinComponent("payload_size_cap"), { config: '{"max_bytes":1}' });
  const reject = async (bytes: Uint8Array, code: string, message: RegExp, config?: string) => {
    await assert.rejects(engine.put("p", bytes, { config }), (e: unknown) => {
      assert.ok(e instanceof PolicyError);
      assert.equal(e.code, code);
      assert.match(e.message, message);
      return true;
    });
  };
  await reject(enc.encode("garbage"), "INVALID_ARGUMENT", /not a Wasm component/);
  await reject(
    new Uint8Array(64 * 1024 + 1),
    "FRAME_TOO_LARGE",
    /exceeds the limit of 65536 bytes/,
  );
  await reject(
    await testPolicyComponent("start_trap"),
    "INVALID_ARGUMENT",
    /start function failed/,
  );
  await reject(
    await builtinComponent("payload_size_cap"),
    "INVALID_ARGUMENT",
    /max_bytes must be/,
    '{"max_bytes":-1}',
  );
  await reject(
    await builtinComponent("payload_size_cap"),
    "INVALID_ARGUMENT",
    /config must be a JSON object/,
    "[1]",
  );
  await assert.rejects(engine.put("Bad Name", new Uint8Array(1)), PolicyError);
  const p = engine.get("p")!;
  assert.equal(p.version, 1);
  assert.equal(engine.inspect(pulse("a.b", "xx")).allow, false);
});

Deno.test("hot swap is atomic: every pulse sees the old or the new policy, none fails", async () => {
  const engine = new PolicyEngine({ log: () => {} });
  const cap = await builtinComponent("payload_size_cap");
  await engine.put("cap", cap, { config: '{"max_bytes": 1000}' });
  const reasons = new Set<string>();
  let allowed = 0;
  let denied = 0;
  let swapping = true;
  const swaps = (async () => {
    for (let i = 0; i < 6; i++) {
      await engine.put("cap", cap, { config: `{"max_bytes": ${i % 2 === 0 ? 2 : 1000}}` });
    }
    swapping = false;
  })();
  while (swapping) {
    const v = engine.inspect(pulse("a.b", "12345"));
    if (v.allow) allowed++;
    else {
      denied++;
      reasons.add(v.reason);
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  await swaps;
  assert.ok(allowed + denied > 0);
  assert.deepEqual(
    [...reasons].filter((r) => !/^cap: payload of 5 bytes exceeds the limit of 2 bytes$/.test(r)),
    [],
  );
  assert.equal(engine.get("cap")!.version, 7);
  assert.equal(engine.inspect(pulse("a.b", "12345")).allow, true);
});

Deno.test("governance actions are audited and policies persist across restarts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-casil-" });
  try {
    const audit = AuditLog.open({ path: `${dir}/audit.jsonl` });
    const engine = new PolicyEngine({ dir: `${dir}/policies`, audit, log: () => {} });
    await engine.put("cap", await builtinComponent("payload_size_cap"), {
      config: '{"max_bytes":3}',
    }, "bob");
    await engine.put("cap", await builtinComponent("payload_size_cap"), {
      config: '{"max_bytes":2}',
    }, "bob");
    await engine.bind("cap", { topics: ["x.>"] }, "carol");
    await engine.put("gone", await testPolicyComponent("allow_all"), {}, "bob");
    await engine.delete("gone", "bob");
    assert.deepEqual(
      audit.list().map((e) => `${e.action}:${e.actor}:${e.details.name}`),
      [
        "policy.publish:bob:cap",
        "policy.replace:bob:cap",
        "policy.bind:carol:cap",
        "policy.publish:bob:gone",
        "policy.delete:bob:gone",
      ],
    );
    assert.deepEqual(audit.verify(), { ok: true, entries: 5 });
    audit.close();

    const restarted = new PolicyEngine({ dir: `${dir}/policies`, log: () => {} });
    assert.equal(await restarted.load(), 1);
    assert.deepEqual(restarted.list().map((p) => [p.name, p.version, p.available]), [[
      "cap",
      3,
      true,
    ]]);
    assert.equal(restarted.inspect(pulse("x.y", "123")).allow, false);
    assert.equal(restarted.inspect(pulse("y.y", "123")).allow, true);

    // A component that disappeared: the policy stays bound and denies (fail-closed).
    await Deno.remove(`${dir}/policies/cap.wasm`);
    const broken = new PolicyEngine({ dir: `${dir}/policies`, log: () => {} });
    await broken.load();
    assert.equal(broken.get("cap")!.available, false);
    const v = broken.inspect(pulse("x.y", "1"));
    assert.equal(v.allow, false);
    if (!v.allow) assert.match(v.reason, /^policy cap is unavailable \(cannot load/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
