/**
 * Runs every build step of the project: each `scripts/build_*.ts`, `build_proto.ts` first
 * (the generated protocol types are what every other step's code type-checks against),
 * then the rest in name order. Steps own their outputs (generated code, Wasm, native
 * libraries) and skip work whose inputs are unchanged.
 * @module
 */
const FIRST = "build_proto.ts";
const dir = new URL(".", import.meta.url);
const steps = [...Deno.readDirSync(dir)]
  .filter((e) => e.isFile && /^build_.+\.ts$/.test(e.name))
  .map((e) => e.name)
  .sort((a, b) => Number(b === FIRST) - Number(a === FIRST) || (a < b ? -1 : a > b ? 1 : 0));
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
