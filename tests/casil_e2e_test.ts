/**
 * CASIL end to end: a real node on an ephemeral port, policies uploaded over HTTP, pulses
 * published over WebSocket; denials reach the publisher as typed errors, redactions reach
 * subscribers, hostile policies fail closed while the node keeps serving other topics.
 */
import assert from "node:assert/strict";
import { ArqonClient, BusError } from "../mod.ts";
import { builtinComponent } from "../casil/mod.ts";
import { testPolicyComponent } from "../casil/build/mod.ts";
import { metric, withNode } from "./support/node.ts";

const dec = new TextDecoder();

async function put(url: string, name: string, body: Uint8Array<ArrayBuffer>, query = "") {
  const res = await fetch(`${url}/v1/policies/${name}${query}`, { method: "PUT", body });
  return { status: res.status, body: await res.json() };
}

async function denial(p: Promise<unknown>): Promise<BusError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BusError, `expected a BusError, got ${e}`);
    return e;
  }
  assert.fail("expected the publish to be denied");
}

Deno.test("energy cap: over-limit nvm.job.submit is denied with POLICY_DENIED, others pass", async () => {
  await withNode(async (node) => {
    const up = await put(node.url, "energy", await builtinComponent("energy_cap"), "?topic=nvm.>");
    assert.equal(up.status, 201);
    const client = await ArqonClient.connect(node.wsUrl);
    try {
      const sub = client.subscribe("nvm.>");
      await sub.ready;
      const ok = await client.publish("nvm.job.submit", JSON.stringify({ joules: 40 }));
      assert.ok(ok && ok.sequence >= 1);
      const e = await denial(client.publish("nvm.job.submit", JSON.stringify({ joules: 75 })));
      assert.equal(e.code, "POLICY_DENIED");
      assert.equal(e.message, "energy: energy cap: requested 75.0 J exceeds the limit of 50.0 J");
      await client.publish("nvm.job.status", JSON.stringify({ joules: 75 }));
      const got = [];
      for await (const p of sub) {
        got.push(`${p.topic} ${dec.decode(p.payload!)}`);
        if (got.length === 2) break;
      }
      assert.deepEqual(got, ['nvm.job.submit {"joules":40}', 'nvm.job.status {"joules":75}']);
      assert.equal(
        await metric(node, "arqon_policy_denials_total", 'policy="energy",reason="denied"'),
        1,
      );
    } finally {
      await client.close();
    }
  });
});

Deno.test("redaction rewrites the payload subscribers receive", async () => {
  await withNode(async (node) => {
    const up = await put(node.url, "secrets", await builtinComponent("redact_secrets"));
    assert.equal(up.status, 201);
    const client = await ArqonClient.connect(node.wsUrl);
    try {
      const sub = client.subscribe("chat.>");
      await sub.ready;
      await client.publish("chat.msg", "write to bob@example.com, key AKIAIOSFODNN7EXAMPLE");
      const { value } = await sub.next();
      assert.equal(dec.decode(value!.payload!), "write to [email], key [api-key]");
      assert.equal(await metric(node, "arqon_policy_redactions_total", 'policy="secrets"'), 1);
    } finally {
      await client.close();
    }
  });
});

Deno.test("hostile policies fail closed; the node keeps serving other topics", async () => {
  await withNode(async (node) => {
    for (const name of ["infinite_loop", "memory_bomb", "deep_recursion"]) {
      const up = await put(
        node.url,
        name.replace("_", "-"),
        await testPolicyComponent(name),
        "?topic=hostile.>",
      );
      assert.equal(up.status, 201, JSON.stringify(up.body));
    }
    // Rejected at upload, each with a clear error.
    const start = await put(node.url, "start-trap", await testPolicyComponent("start_trap"));
    assert.equal(start.status, 400);
    assert.match(start.body.error.message, /start function failed: unreachable/);
    const garbage = await put(node.url, "garbage", new TextEncoder().encode("\0asm garbage"));
    assert.equal(garbage.status, 400);
    assert.match(garbage.body.error.message, /not a Wasm component|not a valid component/);
    const big = await put(node.url, "big", new Uint8Array(node.config.policyMaxUploadBytes + 1));
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, "FRAME_TOO_LARGE");

    const client = await ArqonClient.connect(node.wsUrl);
    try {
      const sub = client.subscribe("calm.>");
      await sub.ready;
      const cases: [string, RegExp][] = [
        ["hostile.loop", /^policy infinite-loop failed: fuel exhausted/],
        ["hostile.bomb", /^policy memory-bomb failed: memory cap of \d+ pages reached/],
        ["hostile.recurse", /^policy deep-recursion failed: (stack overflow|fuel exhausted)/],
      ];
      for (let round = 0; round < 2; round++) {
        for (const [topic, message] of cases) {
          const e = await denial(client.publish(topic, "x"));
          assert.equal(e.code, "POLICY_DENIED");
          assert.match(e.message, message);
          // Between hostile pulses, the node still serves other topics.
          await client.publish("calm.ping", `${topic} ${round}`);
        }
      }
      const seen: string[] = [];
      for await (const p of sub) {
        seen.push(dec.decode(p.payload!));
        if (seen.length === 6) break;
      }
      assert.deepEqual(seen, [
        "hostile.loop 0",
        "hostile.bomb 0",
        "hostile.recurse 0",
        "hostile.loop 1",
        "hostile.bomb 1",
        "hostile.recurse 1",
      ]);
      assert.equal(
        await metric(
          node,
          "arqon_policy_denials_total",
          'policy="infinite-loop",reason="fuel_exhausted"',
        ),
        2,
      );
      assert.equal(
        await metric(
          node,
          "arqon_policy_denials_total",
          'policy="memory-bomb",reason="memory_cap"',
        ),
        2,
      );
    } finally {
      await client.close();
    }
  }, { policyFuel: 2_000_000, policyMemoryPages: 64 });
});

Deno.test("policies and the audit log persist under the data dir; deleting lifts the policy", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-casil-e2e-" });
  try {
    await withNode(async (node) => {
      const up = await put(
        node.url,
        "size",
        await builtinComponent("payload_size_cap"),
        `?topic=a.>&config=${encodeURIComponent('{"max_bytes":3}')}`,
      );
      assert.equal(up.status, 201);
    }, { dataDir: dir });
    await withNode(async (node) => {
      assert.deepEqual(node.policies.list().map((p) => [p.name, p.available]), [["size", true]]);
      const client = await ArqonClient.connect(node.wsUrl);
      try {
        const e = await denial(client.publish("a.b", "1234"));
        assert.equal(e.message, "size: payload of 4 bytes exceeds the limit of 3 bytes");
        const del = await fetch(`${node.url}/v1/policies/size`, { method: "DELETE" });
        assert.equal(del.status, 200);
        await del.body?.cancel();
        assert.ok(await client.publish("a.b", "1234"));
      } finally {
        await client.close();
      }
      const audit = await (await fetch(`${node.url}/v1/audit`)).json();
      assert.deepEqual(
        audit.entries.map((e: { action: string }) => e.action).filter((a: string) =>
          a.startsWith("policy.")
        ),
        [
          "policy.publish",
          "policy.delete",
        ],
      );
      assert.equal((await (await fetch(`${node.url}/v1/audit/verify`)).json()).ok, true);
    }, { dataDir: dir });
    // The CLI verifier reads the same file.
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/audit_verify.ts", `${dir}/audit/audit.jsonl`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, dec.decode(out.stderr));
    assert.match(dec.decode(out.stdout), /ok, \d+ entries, chain intact/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--policy-* flags and env set the limits; --help lists them", async () => {
  const { parseConfig } = await import("../mod.ts");
  const parsed = parseConfig(
    ["--policy-fuel", "123456", "--policy-memory-pages", "8", "--memory"],
    (name) => (name === "ARQON_POLICY_MAX_UPLOAD_BYTES" ? "2048" : undefined),
  );
  assert.equal(parsed.help, false);
  if (parsed.help) return;
  assert.equal(parsed.config.policyFuel, 123456);
  assert.equal(parsed.config.policyMemoryPages, 8);
  assert.equal(parsed.config.policyMaxUploadBytes, 2048);
  const help = parseConfig(["--help"]);
  assert.ok(help.help);
  if (help.help) {
    for (const flag of ["--policy-fuel", "--policy-memory-pages", "--policy-max-upload-bytes"]) {
      assert.ok(help.text.includes(flag), flag);
    }
  }
  await withNode((node) => {
    assert.deepEqual(node.policies.limits, { fuelPerCall: 123456, memoryPages: 8 });
    assert.equal(node.policies.maxUploadBytes, 2048);
    return Promise.resolve();
  }, { policyFuel: 123456, policyMemoryPages: 8, policyMaxUploadBytes: 2048 });
});
