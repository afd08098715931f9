import assert from "node:assert/strict";
import { POLICY_FLAGS } from "../../casil/mod.ts";
import { SECURITY_FLAGS } from "../shield/auth/mod.ts";
import { SHIELD_FLAGS } from "../shield/mod.ts";
import { SPINE_FLAGS } from "../spine/mod.ts";
import { STORE_FLAGS } from "../store/mod.ts";
import { DEFAULT_CONFIG, NODE_FLAGS, parseConfig } from "./mod.ts";

Deno.test("defaults: loopback, port 7420, 1 MiB frames", () => {
  const parsed = parseConfig([], () => undefined);
  assert.equal(parsed.help, false);
  if (parsed.help) return;
  assert.equal(parsed.config.host, "127.0.0.1");
  assert.equal(parsed.config.port, 7420);
  assert.equal(parsed.config.maxFrameBytes, 1024 * 1024);
  // The command line keeps its log on disk by default; embedded nodes start in memory.
  assert.deepEqual(parsed.config, { ...DEFAULT_CONFIG, dataDir: "./data" });
});

Deno.test("precedence: flags over env over config file", async () => {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(
    file,
    JSON.stringify({ port: 1000, host: "127.0.0.2", queueMessages: 5 }),
  );
  const env = (n: string) => ({ ARQON_PORT: "2000" } as Record<string, string>)[n];
  const a = parseConfig(["--config", file], env);
  const b = parseConfig(["--config", file, "--port", "3000", "--overflow", "drop-new"], env);
  await Deno.remove(file);
  assert.ok(!a.help && !b.help);
  if (a.help || b.help) return;
  assert.equal(a.config.port, 2000);
  assert.equal(a.config.host, "127.0.0.2");
  assert.equal(a.config.queueMessages, 5);
  assert.equal(b.config.port, 3000);
  assert.equal(b.config.overflow, "drop-new");
});

Deno.test("bad values and unknown options are refused with a message", async () => {
  assert.throws(
    () => parseConfig(["--port=-1"], () => undefined),
    /port must be a non-negative integer/,
  );
  assert.throws(() => parseConfig(["--overflow", "x"], () => undefined), /overflow must be one of/);
  assert.throws(() => parseConfig(["--what"], () => undefined));
  assert.throws(
    () => parseConfig([], (n) => (n === "ARQON_PORT" ? "http" : undefined)),
    /ARQON_PORT/,
  );
  const file = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(file, JSON.stringify({ colour: "blue" }));
  assert.throws(() => parseConfig(["--config", file], () => undefined), /unknown option 'colour'/);
  await Deno.remove(file);
  const help = parseConfig(["--help"], () => undefined);
  assert.ok(help.help && help.text.includes("--max-frame-bytes"));
});

Deno.test("the flag table: frozen, one entry per key and flag, a default for each", () => {
  assert.ok(Object.isFrozen(NODE_FLAGS));
  assert.throws(() => (NODE_FLAGS as unknown as unknown[]).push({}));
  const keys = NODE_FLAGS.map((f) => f.key);
  const flags = NODE_FLAGS.map((f) => f.flag);
  assert.equal(new Set(keys).size, keys.length);
  assert.equal(new Set(flags).size, flags.length);
  for (const f of NODE_FLAGS) {
    assert.ok(f.key in DEFAULT_CONFIG, `${f.key} has no default`);
    if (f.kind === "enum") assert.ok(f.choices?.includes(String(DEFAULT_CONFIG[f.key])));
  }
  // Every default is a flag: nothing is configurable in code only.
  assert.deepEqual(Object.keys(DEFAULT_CONFIG).sort(), [...keys].sort());
  // Each layer's own list is in the table.
  for (const layer of [SECURITY_FLAGS, POLICY_FLAGS, SPINE_FLAGS, STORE_FLAGS, SHIELD_FLAGS]) {
    for (const f of layer) assert.ok(NODE_FLAGS.includes(f), `${f.flag} missing`);
  }
});
