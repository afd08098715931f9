/** `deno task harmonics:asm` (scripts/harmonics_asm.ts) as a user runs it. */
import assert from "node:assert/strict";
import { base64 } from "@scure/base";
import { assemble } from "./mod.ts";

const SCRIPT = new URL("../../../scripts/harmonics_asm.ts", import.meta.url).pathname;

async function cli(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("harmonics:asm writes bytecode, prints base64 and disassembles", async () => {
  const dir = await Deno.makeTempDir({ prefix: "harmonics-" });
  try {
    const text = ".topic v.o\nload r0, 0, 2\nsum r1, r0\nstore r1, 0\nemit v.o\n";
    await Deno.writeTextFile(`${dir}/p.hasm`, text);
    const made = await cli(`${dir}/p.hasm`);
    assert.equal(made.code, 0, made.stderr);
    assert.deepEqual(await Deno.readFile(`${dir}/p.bin`), assemble(text));
    const o = await cli(`${dir}/p.hasm`, "-o", `${dir}/q.bin`);
    assert.equal(o.code, 0);
    assert.deepEqual(await Deno.readFile(`${dir}/q.bin`), assemble(text));
    const b64 = await cli(`${dir}/p.hasm`, "--base64");
    assert.equal(b64.stdout.trim(), base64.encode(assemble(text)));
    const dis = await cli("--disasm", `${dir}/p.bin`);
    assert.equal(dis.code, 0);
    assert.deepEqual(assemble(dis.stdout), assemble(text));
    await Deno.writeTextFile(`${dir}/bad.hasm`, "load r0, 0, 1\nsum r1\n");
    const bad = await cli(`${dir}/bad.hasm`);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim(), `${dir}/bad.hasm:2: sum takes 2 operand(s), not 1`);
    await Deno.writeFile(`${dir}/junk.bin`, new Uint8Array([1, 2, 3]));
    const junk = await cli("--disasm", `${dir}/junk.bin`);
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /program of 3 bytes has no header/);
    assert.equal((await cli()).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
