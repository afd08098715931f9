import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { checkImports, importSpecifiers, layerOf } from "./check_imports.ts";

/** Writes a fake repository: path -> source. */
async function fakeTree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "check_imports_" });
  for (const [path, source] of Object.entries(files)) {
    await Deno.mkdir(join(root, dirname(path)), { recursive: true });
    await Deno.writeTextFile(join(root, path), source);
  }
  return root;
}

const SCRIPT = new URL("./check_imports.ts", import.meta.url).pathname;

async function run(root: string): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, root],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, out: text.decode(stdout) + text.decode(stderr) };
}

/** A small well-layered tree: protocol (leaf) <- spine <- shield <- node <- root mod.ts. */
const CLEAN: Record<string, string> = {
  "mod.ts": 'export { startNode } from "./runtime/node/mod.ts";\n',
  "runtime/protocol/mod.ts": 'export { BusError } from "./errors.ts";\n',
  "runtime/protocol/errors.ts": "export class BusError extends Error {}\n",
  "runtime/spine/mod.ts": 'export { Spine } from "./spine.ts";\n',
  "runtime/spine/spine.ts":
    'import { BusError } from "../protocol/mod.ts";\nexport class Spine { e = BusError; }\n',
  "runtime/shield/mod.ts": 'export * from "./http.ts";\n',
  "runtime/shield/http.ts": [
    "import {",
    "  type Spine,",
    '} from "../spine/mod.ts";',
    '// import { x } from "../spine/spine.ts";  (a comment, not an import)',
    'const text = `import { y } from "../spine/spine.ts"`;',
    "export const app = (s: Spine) => [s, text];",
  ].join("\n"),
  "runtime/shield/http_test.ts": 'import { Spine } from "../spine/spine.ts";\nSpine;\n',
  "runtime/node/mod.ts": 'export { startNode } from "./start.ts";\n',
  "runtime/node/start.ts":
    'import { app } from "../shield/mod.ts";\nexport const startNode = () => app;\n',
};

Deno.test("check_imports: a well-layered tree passes", async () => {
  const root = await fakeTree(CLEAN);
  try {
    const report = await checkImports(root);
    assert.deepEqual(report.bypasses, []);
    assert.deepEqual(report.cycles, []);
    assert.deepEqual(report.directions, []);
    // Tests are not read.
    assert.ok(!report.files.includes("runtime/shield/http_test.ts"));
    const { code } = await run(root);
    assert.equal(code, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("check_imports: a bypass, a cycle and a wrong direction fail with their files", async () => {
  const root = await fakeTree({
    ...CLEAN,
    // Bypass: the shield reaches past the spine's mod.ts.
    "runtime/shield/session.ts": 'import type { Spine } from "../spine/spine.ts";\nlet s: Spine;\n',
    // Cycle (type-only on one side still counts).
    "runtime/spine/a.ts": 'import type { B } from "./b.ts";\nexport type A = B;\n',
    "runtime/spine/b.ts": 'import { a } from "./a.ts";\nexport type B = number;\nexport { a };\n',
    // Against the layering: the protocol is a leaf and nothing imports the Shield.
    "runtime/protocol/bad.ts": 'export * from "../shield/mod.ts";\n',
  });
  try {
    const report = await checkImports(root);
    assert.deepEqual(report.bypasses, [
      { from: "runtime/shield/session.ts", to: "runtime/spine/spine.ts" },
    ]);
    assert.deepEqual(report.cycles, [["runtime/spine/a.ts", "runtime/spine/b.ts"]]);
    assert.deepEqual(report.directions, [{
      from: "runtime/protocol/bad.ts",
      to: "runtime/shield/mod.ts",
      fromLayer: "protocol",
      toLayer: "shield",
    }]);
    const { code, out } = await run(root);
    assert.equal(code, 1);
    assert.match(out, /runtime\/shield\/session\.ts -> runtime\/spine\/spine\.ts/);
    assert.match(out, /runtime\/spine\/a\.ts <-> runtime\/spine\/b\.ts/);
    assert.match(out, /protocol may not import shield/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("check_imports: specifiers of every import form, none from comments or templates", () => {
  const source = [
    'import a from "./a.ts";',
    'import type { B } from "./b.ts";',
    "import {",
    "  c,",
    "  type D,",
    '} from "../c/mod.ts";',
    'import "./side_effect.ts";',
    'export * from "./e.ts";',
    'export { f } from "./f.ts";',
    'const g = await import("./g.ts");',
    'new Worker(new URL("./worker.ts", import.meta.url).href);',
    '/* import x from "./no.ts"; */',
    '// export * from "./no2.ts";',
    "const t = `",
    'import y from "./no3.ts";',
    "`;",
    'export const s = "from \\"./no4.ts\\"";',
  ].join("\n");
  assert.deepEqual(importSpecifiers(source).sort(), [
    "../c/mod.ts",
    "./a.ts",
    "./b.ts",
    "./e.ts",
    "./f.ts",
    "./g.ts",
    "./side_effect.ts",
    "./worker.ts",
  ]);
});

Deno.test("check_imports: layers by folder, subfolders in their parent's layer", () => {
  assert.equal(layerOf("runtime/shield/auth"), "shield");
  assert.equal(layerOf("runtime/store/crypto"), "store");
  assert.equal(layerOf("casil/build"), "casil");
  assert.equal(layerOf(""), "root");
});
