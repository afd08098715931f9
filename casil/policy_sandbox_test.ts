import assert from "node:assert/strict";
import { componentEmbed, componentNew } from "@bytecodealliance/jco-transpile/wasm-tools";
import { testPolicyComponent } from "./build/mod.ts";
import { OPERATOR_WORLD, WIT_DIR } from "../wit/mod.ts";
import {
  ComponentRejectedError,
  Engine,
  type SandboxLimits,
  SandboxTrapError,
} from "../runtime/sandbox/mod.ts";
import { loadPolicy, type PolicyInput, PolicySandbox } from "./mod.ts";

const enc = new TextEncoder();
const engine = new Engine();
const load = (bytes: Uint8Array, limits?: SandboxLimits) => loadPolicy(engine, bytes, limits);
const dec = new TextDecoder();

function input(
  topic: string,
  payload = "hello wörld",
  extra: Partial<PolicyInput> = {},
): PolicyInput {
  return {
    reality: "lab",
    topic,
    producer: "alice",
    headers: [["a", "1"], ["b", "zwei"]],
    contentType: "text/plain",
    payload: enc.encode(payload),
    entropySeed: 42n,
    wallMs: 1_700_000_000_123n,
    logical: 7,
    ...extra,
  };
}

async function rejection(p: Promise<unknown>): Promise<ComponentRejectedError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ComponentRejectedError, `expected a rejection, got ${e}`);
    return e;
  }
  assert.fail("expected the component to be rejected");
}

function trap(fn: () => unknown): SandboxTrapError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SandboxTrapError, `expected a trap, got ${e}`);
    return e;
  }
  assert.fail("expected the call to fail");
}

Deno.test("the adapter passes every context field, headers, payload and config", async () => {
  const mod = await load(await testPolicyComponent("echo_context"));
  const sb = new PolicySandbox(mod, "cfg-xyz");
  const v = sb.evaluate(input("lab.echo"));
  assert.equal(v.kind, "deny");
  assert.equal(
    (v as { reason: string }).reason,
    "lab|lab.echo|alice|a=1;b=zwei;|text/plain|hello wörld|cfg-xyz",
  );
  // Many calls in a row: per-call memory is released, so memory does not grow.
  for (let i = 0; i < 2000; i++) sb.evaluate(input("lab.echo", "x".repeat(2000)));
  const again = sb.evaluate(input("lab.echo", "short"));
  assert.equal(
    (again as { reason: string }).reason,
    "lab|lab.echo|alice|a=1;b=zwei;|text/plain|short|cfg-xyz",
  );
});

Deno.test("allow and redact verdicts come back intact", async () => {
  const sb = new PolicySandbox(await load(await testPolicyComponent("echo_context")));
  assert.deepEqual(sb.evaluate(input("x.ok")), { kind: "allow" });
  const v = sb.evaluate(input("x.upper", "abc-xyz ü"));
  assert.equal(v.kind, "redact");
  if (v.kind !== "redact") return;
  assert.equal(dec.decode(v.payload), "ABC-XYZ ü");
  assert.equal(v.reason, "upper-cased");
});

Deno.test("host functions are deterministic: random stream from the seed, logical time, log", async () => {
  const logs: string[] = [];
  const sb = new PolicySandbox(
    await load(await testPolicyComponent("echo_context")),
    "{}",
    (level, message) => logs.push(`${level}:${message}`),
  );
  const a = sb.evaluate(input("x.host"));
  const b = sb.evaluate(input("x.host"));
  const c = sb.evaluate(input("x.host", "p", { entropySeed: 43n }));
  assert.equal(a.kind, "deny");
  const [r1, r2, wall, logical] = (a as { reason: string }).reason.split(",");
  assert.deepEqual(a, b);
  assert.notEqual(r1, r2);
  assert.notDeepEqual(a, c);
  assert.equal(wall, "1700000000123");
  assert.equal(logical, "7");
  // splitmix64, computed independently here.
  let state = 42n;
  const next = () => {
    state = (state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    return z ^ (z >> 31n);
  };
  assert.equal(r1, next().toString());
  assert.equal(r2, next().toString());
  assert.deepEqual(logs, [
    "warn:hello from alice",
    "warn:hello from alice",
    "warn:hello from alice",
  ]);
});

Deno.test("configure errors reject the policy", async () => {
  const mod = await load(await testPolicyComponent("echo_context"));
  assert.throws(() => new PolicySandbox(mod, "bad"), (e: unknown) => {
    assert.ok(e instanceof ComponentRejectedError);
    assert.equal(e.reason, "configure_failed");
    assert.match(e.message, /config must not be bad/);
    return true;
  });
});

Deno.test("an infinite loop stops on fuel, the instance is rebuilt, other pulses pass", async () => {
  const mod = await load(await testPolicyComponent("infinite_loop"), {
    fuelPerCall: 1_000_000,
    memoryPages: 16,
  });
  const sb = new PolicySandbox(mod);
  assert.deepEqual(sb.evaluate(input("other.topic")), { kind: "allow" });
  const e = trap(() => sb.evaluate(input("hostile.loop")));
  assert.equal(e.kind, "fuel_exhausted");
  assert.match(e.message, /fuel exhausted \(budget 1000000\)/);
  assert.equal(sb.discarded, 1);
  assert.deepEqual(sb.evaluate(input("other.topic")), { kind: "allow" });
  trap(() => sb.evaluate(input("hostile.loop")));
  assert.equal(sb.discarded, 2);
});

Deno.test("a memory.grow bomb hits the memory cap", async () => {
  const mod = await load(await testPolicyComponent("memory_bomb"), {
    fuelPerCall: 10_000_000,
    memoryPages: 32,
  });
  const sb = new PolicySandbox(mod);
  const e = trap(() => sb.evaluate(input("hostile.bomb")));
  assert.equal(e.kind, "memory_cap");
  assert.match(e.message, /memory cap of 32 pages/);
  assert.deepEqual(sb.evaluate(input("calm.topic")), { kind: "allow" });
});

Deno.test("deep recursion fails as a stack overflow", async () => {
  const sb = new PolicySandbox(await load(await testPolicyComponent("deep_recursion")));
  const e = trap(() => sb.evaluate(input("hostile.recurse")));
  assert.ok(e.kind === "stack_overflow" || e.kind === "fuel_exhausted", e.kind);
  assert.deepEqual(sb.evaluate(input("calm.topic")), { kind: "allow" });
});

Deno.test("a trap in the start function rejects the policy", async () => {
  const mod = await load(await testPolicyComponent("start_trap"));
  assert.throws(() => new PolicySandbox(mod), (e: unknown) => {
    assert.ok(e instanceof ComponentRejectedError);
    assert.equal(e.reason, "start_failed");
    assert.match(e.message, /start function failed: unreachable/);
    return true;
  });
});

Deno.test("a component of another world is rejected, naming what differs", async () => {
  const other = await componentNew(
    await componentEmbed({
      dummy: true,
      witPath: WIT_DIR,
      world: OPERATOR_WORLD,
      stringEncoding: "utf8",
    }),
  );
  const e = await rejection(load(other));
  assert.equal(e.reason, "wrong_world");
  assert.match(e.message, /lacks `export evaluate: func/);
  assert.match(
    e.message,
    /exports `export handle: func\(pulse: pulse\) -> list<pulse>` which world policy does not have/,
  );
});

Deno.test("garbage, core modules and truncated components are rejected", async () => {
  const garbage = await rejection(load(enc.encode("definitely not wasm")));
  assert.equal(garbage.reason, "not_a_component");
  const core = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  const coreErr = await rejection(load(core));
  assert.equal(coreErr.reason, "not_a_component");
  assert.match(coreErr.message, /core Wasm module, not a component/);
  const good = await testPolicyComponent("allow_all");
  const truncated = await rejection(load(good.slice(0, good.length - 100)));
  assert.equal(truncated.reason, "not_a_component");
  assert.match(truncated.message, /not a valid component/);
});

Deno.test("a memory cap below the module's initial memory rejects it", async () => {
  const e = await rejection(
    load(await testPolicyComponent("allow_all"), { fuelPerCall: 1000, memoryPages: 0 }),
  );
  assert.equal(e.reason, "memory_over_cap");
});

Deno.test("policy modules are cached by content hash and limits", async () => {
  const bytes = await testPolicyComponent("allow_all");
  const a = await load(bytes);
  const b = await load(bytes.slice());
  const c = await load(bytes, { fuelPerCall: 5, memoryPages: 16 });
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.equal(a.digest, c.digest);
  assert.match(a.digest, /^[0-9a-f]{64}$/);
});

Deno.test("fuel grows with the work done and is the same for the same input", async () => {
  const sb = new PolicySandbox(await load(await testPolicyComponent("compute_heavy")));
  sb.evaluate(input("x", "a".repeat(100)));
  const small = sb.lastFuelUsed;
  sb.evaluate(input("x", "a".repeat(100)));
  assert.equal(sb.lastFuelUsed, small);
  sb.evaluate(input("x", "a".repeat(1000)));
  const large = sb.lastFuelUsed;
  // 200 rounds over the payload: each of the 900 extra bytes is a loop iteration of a few
  // dozen expressions, so the extra fuel is between 1 and 100 units per iteration.
  const perIteration = (large - small) / (200 * 900);
  assert.ok(perIteration >= 1 && perIteration <= 100, `fuel per iteration ${perIteration}`);
});

Deno.test("instrumentation in a worker gives the same module and the same refusals", async () => {
  const limits = { fuelPerCall: 777_777, memoryPages: 17 };
  const workerEngine = new Engine({ worker: true });
  const viaWorker = await loadPolicy(
    workerEngine,
    await testPolicyComponent("echo_context"),
    limits,
  );
  const sb = new PolicySandbox(viaWorker, "w");
  assert.equal(
    (sb.evaluate(input("lab.echo")) as { reason: string }).reason,
    "lab|lab.echo|alice|a=1;b=zwei;|text/plain|hello wörld|w",
  );
  const e = await rejection(
    loadPolicy(workerEngine, await testPolicyComponent("allow_all"), {
      fuelPerCall: 1,
      memoryPages: 0,
    }),
  );
  assert.equal(e.reason, "memory_over_cap");
  workerEngine.close();
});
