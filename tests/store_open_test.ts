/**
 * The node as a process refuses a damaged or busy data directory at start with a clear
 * message and a non-zero exit, and leaves the files as they were.
 */
import assert from "node:assert/strict";
import { NodeProcess } from "./store_node_process.ts";

async function runNode(dataDir: string): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", "--port", "0", "--data-dir", dataDir],
    cwd: new URL("../", import.meta.url),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("store open: a corrupt data directory stops the node, never resets it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-corrupt-" });
  try {
    const garbage = new Uint8Array(8192).map((_, i) => (i * 7919) & 0xff);
    await Deno.writeFile(`${dir}/arqon.db`, garbage);
    const { code, stderr } = await runNode(dir);
    assert.equal(code, 1);
    assert.match(stderr, /cannot open store at .*arqon\.db: file is not a database/);
    assert.match(stderr, /does not reset a damaged store/);
    assert.deepEqual(await Deno.readFile(`${dir}/arqon.db`), garbage);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "store open: a second node on a busy data directory stops with a clear message",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "arqon-busy-" });
    const first = await NodeProcess.start(dir, []);
    try {
      const { code, stderr } = await runNode(dir);
      assert.equal(code, 1);
      assert.match(stderr, /another node running on this data directory/);
    } finally {
      first.kill("SIGKILL");
      await first.exited();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
