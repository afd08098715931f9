/**
 * `deno task lock`: writes `deno.lock` afresh from every module of the repository, so the
 * lock holds exactly what the code imports (after a merge, or a change of `imports`).
 *
 * `deno cache` resolves the static graph of each tracked TypeScript file (AssemblyScript
 * sources apart: they are not Deno modules) plus the generated protocol types; then the
 * proto step runs with `--force`, since it loads its compiler (`npm:protobufjs-cli`) by a
 * specifier the graph does not see.
 *
 *   deno task lock
 * @module
 */
const ROOT = new URL("../", import.meta.url);
/** Folders of AssemblyScript sources or other languages, not Deno modules. */
const NOT_DENO =
  /^(casil\/sdk\/assembly|casil\/policies|casil\/testdata|operators\/sdk\/assembly|operators\/builtin\/[^/]+\/assembly|operators\/testdata|bench\/operators\/assembly|sdk|native)\//;

async function run(args: string[], capture = false): Promise<string> {
  const out = await new Deno.Command(args[0], {
    args: args.slice(1),
    cwd: ROOT,
    stdout: capture ? "piped" : "inherit",
    stderr: "inherit",
  }).output();
  if (out.code !== 0) {
    console.error(`lock: ${args.slice(0, 3).join(" ")} ... failed with exit code ${out.code}`);
    Deno.exit(out.code);
  }
  return capture ? new TextDecoder().decode(out.stdout) : "";
}

const deno = Deno.execPath();
const tracked = (await run(["git", "ls-files", "*.ts"], true))
  .split("\n")
  .filter((f) => f && !NOT_DENO.test(f));
await Deno.remove(new URL("deno.lock", ROOT)).catch(() => {});
// The generated types are imported by the protocol: generate them before caching.
await run([deno, "run", "-A", "scripts/build_proto.ts", "--force"]);
await run([deno, "cache", ...tracked, "runtime/protocol/gen/types.ts"]);
console.log(`lock: deno.lock written from ${tracked.length} modules`);
