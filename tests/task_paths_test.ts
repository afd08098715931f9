/**
 * `policy:build`, `operator:build`, `harmonics:asm` and `audit:verify` run from a directory
 * outside the repository, as a user runs them there (`deno task --config <repo>/deno.json ...`
 * with that directory as the working directory): relative paths are read and written there,
 * not in the repository where `deno task` runs its command. The built policy is then
 * installed into a real node over HTTP and judges a pulse, so the component is a real one.
 */
import assert from "node:assert/strict";
import { withNode } from "./support/node.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CONFIG = `${ROOT}deno.json`;

// `deno task` keeps an INIT_CWD it inherits (as npm does): under `deno task test` it would
// name the repository, so the children get the environment without it, as in a user's shell.
const ENV = Object.fromEntries(
  Object.entries(Deno.env.toObject()).filter(([k]) => k !== "INIT_CWD"),
);

async function taskIn(cwd: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "--config", CONFIG, ...args],
    cwd,
    clearEnv: true,
    env: ENV,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

// A policy as a user writes it outside the repository: the SDK imported by its package name.
const POLICY = `import { allow, Context, deny, Verdict } from "@arqon/casil";
export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  return payload.length > 3 ? deny("too long") : allow();
}
`;

const OPERATOR = `import { outputText, Pulse } from "@arqon/operator";
export function handle(pulse: Pulse): Pulse[] {
  const out = new Array<Pulse>(0);
  out.push(outputText("echo.out", pulse.text()));
  return out;
}
`;

Deno.test("policy:build and operator:build read and write relative to where they are run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-paths-" });
  try {
    await Deno.mkdir(`${dir}/src`);
    await Deno.writeTextFile(`${dir}/src/short.ts`, POLICY);
    await Deno.writeTextFile(`${dir}/src/echo.ts`, OPERATOR);

    const p = await taskIn(dir, "policy:build", "src/short.ts", "-o", "out/short.wasm");
    assert.equal(p.code, 0, p.stderr);
    const wasm = await Deno.readFile(`${dir}/out/short.wasm`);
    assert.ok(wasm.length > 100, "a component was written");
    // Beside its source when no -o is given, still in the caller's directory.
    const beside = await taskIn(`${dir}/src`, "policy:build", "short.ts");
    assert.equal(beside.code, 0, beside.stderr);
    assert.ok((await Deno.stat(`${dir}/src/short.wasm`)).isFile);

    const o = await taskIn(dir, "operator:build", "src/echo.ts", "-o", "echo.wasm");
    assert.equal(o.code, 0, o.stderr);
    assert.ok((await Deno.stat(`${dir}/echo.wasm`)).size > 100);

    // Nothing was written into the repository under those relative names.
    for (const stray of ["out/short.wasm", "echo.wasm", "src/short.wasm"]) {
      await assert.rejects(Deno.stat(`${ROOT}${stray}`), Deno.errors.NotFound, stray);
    }
    // A source that is not there names the caller's path, and fails with exit code 1.
    const missing = await taskIn(dir, "policy:build", "nope.ts");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`${dir}/nope\\.ts`));
    // An unknown option is a usage error (2), with the usage.
    const bad = await taskIn(dir, "operator:build", "--frobnicate");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown option --frobnicate[\s\S]*usage: deno task operator:build/);

    // The component built outside the repository is a working policy in a real node.
    await withNode(async (node) => {
      const put = await fetch(`${node.url}/v1/policies/short?topic=paths.>`, {
        method: "PUT",
        headers: { "content-type": "application/wasm" },
        body: wasm,
      });
      assert.equal(put.status, 201, await put.text());
      const publish = (body: string) =>
        fetch(`${node.url}/v1/realities/default/topics/paths.a`, { method: "POST", body });
      const ok = await publish("abc");
      assert.equal(ok.status, 200, await ok.text());
      const denied = await publish("abcdef");
      const body = await denied.json();
      assert.equal(denied.status, 403, JSON.stringify(body));
      assert.equal(body.error.code, "POLICY_DENIED");
    }, { memory: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("harmonics:asm and audit:verify take paths relative to where they are run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-paths-" });
  try {
    await Deno.writeTextFile(`${dir}/p.hasm`, ".topic v.o\nload r0, 0, 2\nemit v.o\n");
    const asm = await taskIn(dir, "harmonics:asm", "p.hasm", "-o", "p.bin");
    assert.equal(asm.code, 0, asm.stderr);
    assert.ok((await Deno.stat(`${dir}/p.bin`)).size > 0);
    // An empty audit log is intact; one relative to the caller's directory is found there.
    await Deno.writeTextFile(`${dir}/audit.jsonl`, "");
    const audit = await taskIn(dir, "audit:verify", "audit.jsonl");
    assert.equal(audit.code, 0, audit.stderr);
    assert.match(audit.stdout, /ok, 0 entries/);
    await Deno.writeTextFile(`${dir}/broken.jsonl`, '{"seq":1,"hash":"x"}\n');
    const broken = await taskIn(dir, "audit:verify", "broken.jsonl");
    assert.equal(broken.code, 1);
    assert.match(broken.stdout, /BROKEN at line 1/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
