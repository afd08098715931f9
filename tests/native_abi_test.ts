/**
 * Runs `native/c/abi_test` (built by `scripts/build_native.ts`): the C ABI used from C,
 * shm both directions through wrap-around and close, and a UDP batch.
 */
import assert from "node:assert/strict";

Deno.test("native: the C ABI test program passes", async () => {
  const bin = new URL("../native/c/build/abi_test", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(bin, { stdout: "piped", stderr: "piped" })
    .output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, `abi_test failed:\n${out}${new TextDecoder().decode(stderr)}`);
  assert.match(out, /abi_test ok/);
});
