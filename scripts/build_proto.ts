/**
 * Generates the TypeScript of `runtime/protocol/arqon.proto` with protobufjs's own CLI, so
 * the protocol's types come from the schema instead of being mirrored by hand:
 *
 * - `pbjs -t static-module -w es6 --force-number --alt-comment` writes
 *   `runtime/protocol/gen/arqon.js` (uint64 as `number`, as the runtime codec decodes them);
 * - `pbts` writes its declarations, `runtime/protocol/gen/arqon.d.ts`;
 * - from those, `gen/types.ts` keeps what the protocol's API exports (re-exported by
 *   `runtime/protocol/types.ts`): each message's `I*` interface with the .proto's comments
 *   (`--alt-comment`), its fields as protobufjs reads and writes them with this codec's
 *   settings (scalars without pbts's `| null`, enums as numbers, maps as records, a oneof's
 *   virtual field as a string), and each enum's values by short name (`AckModeValues`).
 *
 * The runtime codec stays protobufjs reflection over the same .proto (`schema.ts`, which
 * the JSON mapping needs anyway): measured against the static module on a Frame{publish}
 * and a Pulse, the static code was not faster (its decode about 2x slower), so the
 * generated code serves the types only and nothing at run time imports it.
 *
 * The output is not committed (`.gitignore`); every `deno task` entry point runs this
 * step first. It is skipped when `gen/.hash` records the same inputs (the .proto, the CLI
 * version, this script and `proto_types.ts`), so a warm run costs a few reads and a hash.
 *
 *   deno task proto            # generate when the schema changed
 *   deno task proto --force    # generate anyway
 * @module
 */
import { apiTypes } from "./proto_types.ts";

/** The protobufjs CLI release that matches the runtime's protobufjs 7. */
const CLI = "npm:protobufjs-cli@1.3.3";
/** The rewriting of pbts's output into `gen/types.ts`: part of the inputs. */
const REWRITER = new URL("proto_types.ts", import.meta.url);
const ROOT = new URL("../", import.meta.url);
const PROTO = new URL("runtime/protocol/arqon.proto", ROOT);
const GEN = new URL("runtime/protocol/gen/", ROOT);
const STAMP = new URL(".hash", GEN);

async function inputsHash(): Promise<string> {
  const parts = [
    await Deno.readFile(PROTO),
    new TextEncoder().encode(CLI),
    await Deno.readFile(new URL(import.meta.url)),
    await Deno.readFile(REWRITER),
  ];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length + 1;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function readText(url: URL): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(url);
  } catch {
    return undefined;
  }
}

/** Runs one CLI binary of protobufjs-cli from the repository root (its node_modules). */
async function cli(bin: "pbjs" | "pbts", args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    // pbts runs jsdoc, which resolves its own modules through a node_modules tree: the
    // repository's `nodeModulesDir` provides one, hence the cwd.
    args: ["run", "-A", "--quiet", `${CLI}/bin/${bin}`, ...args],
    cwd: ROOT.pathname,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`${bin} exited with ${code}: ${new TextDecoder().decode(stderr).trim()}`);
  }
}

async function generate(): Promise<void> {
  await Deno.mkdir(GEN, { recursive: true });
  const js = new URL("arqon.js", GEN);
  const dts = new URL("arqon.d.ts", GEN);
  const jsPath = js.pathname;
  await cli("pbjs", [
    "-t",
    "static-module",
    "-w",
    "es6",
    "--force-number",
    "--alt-comment",
    "-o",
    jsPath,
    PROTO.pathname,
  ]);
  await cli("pbts", ["-o", dts.pathname, jsPath]);
  // Deno resolves bare specifiers through deno.json's import map, which maps `protobufjs`
  // (the full build, a superset of `protobufjs/minimal`), and has no `long` package: with
  // --force-number no generated type names Long.
  const code = await Deno.readTextFile(js);
  await Deno.writeTextFile(
    js,
    code.replace(
      'import * as $protobuf from "protobufjs/minimal";',
      'import $protobuf from "protobufjs";',
    ),
  );
  const types = (await Deno.readTextFile(dts)).replace(/^import Long = require\("long"\);\n/m, "");
  if (/\bLong\b/.test(types)) {
    throw new Error("arqon.d.ts names Long: is --force-number still in effect?");
  }
  await Deno.writeTextFile(dts, types);
  await Deno.writeTextFile(new URL("types.ts", GEN), apiTypes(types));
}

const hash = await inputsHash();
if (Deno.args.includes("--force") || (await readText(STAMP))?.trim() !== hash) {
  const t0 = performance.now();
  await Deno.remove(STAMP).catch(() => {});
  await generate();
  await Deno.writeTextFile(STAMP, hash + "\n");
  console.error(
    `build_proto: generated runtime/protocol/gen/ from arqon.proto in ${
      (performance.now() - t0).toFixed(0)
    } ms`,
  );
}
