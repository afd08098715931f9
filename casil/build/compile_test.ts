import assert from "node:assert/strict";
import { ComponentRejectedError, Engine } from "../../runtime/sandbox/mod.ts";
import { loadPolicy, type PolicyInput, PolicySandbox } from "../mod.ts";
import { compilePolicy, PolicyCompileError, testPolicyComponent } from "./mod.ts";

const enc = new TextEncoder();

function input(contentType: string, payload: string): PolicyInput {
  return {
    reality: "default",
    topic: "chat.msg",
    producer: "p",
    headers: [],
    contentType,
    payload: enc.encode(payload),
    entropySeed: 0,
    wallMs: 0,
    logical: 0,
  };
}

Deno.test("the docs example builds (SDK imported as @arqon/casil) and behaves as documented", async () => {
  const module = await loadPolicy(new Engine(), await testPolicyComponent("no_shouting"));
  const sb = new PolicySandbox(module, '{"max_ratio": 0.6}');
  assert.deepEqual(sb.evaluate(input("text/plain", "Hello there, how are you")), { kind: "allow" });
  assert.deepEqual(sb.evaluate(input("text/plain", "HELLO THERE HOW ARE you")), {
    kind: "deny",
    reason: "please do not shout (16 of 19)",
  });
  assert.deepEqual(sb.evaluate(input("application/json", "HELLO THERE HOW ARE YOU")), {
    kind: "allow",
  });
  assert.throws(() => new PolicySandbox(module, '{"max_ratio": 2}'), ComponentRejectedError);
});

Deno.test("a policy that does not compile reports asc's diagnostics", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-policy-" });
  try {
    await Deno.writeTextFile(
      `${dir}/broken.ts`,
      'import { Context, Verdict, allow } from "@arqon/casil";\n' +
        "export function evaluate(ctx: Context, payload: Uint8Array): Verdict {\n" +
        "  return notAFunction();\n}\n",
    );
    await assert.rejects(compilePolicy(`${dir}/broken.ts`), (e: unknown) => {
      assert.ok(e instanceof PolicyCompileError);
      assert.match(e.diagnostics, /notAFunction/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
