/**
 * Runs every build step of the project: each `scripts/build_*.ts` in name order.
 * Steps own their outputs (Wasm, native libraries) and skip work whose inputs are unchanged.
 * @module
 */
const dir = new URL(".", import.meta.url);
const steps = [...Deno.readDirSync(dir)]
  .filter((e) => e.isFile && /^build_.+\.ts$/.test(e.name))
  .map((e) => e.name)
  .sort();
for (const step of steps) {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(step, dir).pathname, ...Deno.args],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`build: ${step} failed with exit code ${code}`);
    Deno.exit(code);
  }
}
