/**
 * Every `deno task` a user runs answers `--help` with its own usage on stdout and exit code
 * 0, as a user runs it (`deno task <name> --help`, through deno.json), and the usage names the
 * task's options. The node's `--help` is grouped, within 100 columns, and states each flag's
 * default in words.
 */
import assert from "node:assert/strict";
import { NODE_FLAGS } from "../mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** `[task and arguments, words its usage must name]`. */
const TASKS: [string[], string[]][] = [
  [["start"], ["--port", "--data-dir", "--memory", "Default: 7420"]],
  [["token"], ["keygen", "issue", "jwks", "store-key", "did"]],
  [["token", "issue"], ["--subject", "--auth-key", "--reality", "--publish", "--ttl", "3600"]],
  [["token", "keygen"], ["--auth-key", "data/node.key"]],
  [["token", "store-key"], ["init", "rotate", "--key-file"]],
  [["token", "did"], ["--algorithm", "Ed25519"]],
  [["policy:build"], ["policy:build", "-o", "relative to the directory"]],
  [["operator:build"], ["operator:build", "-o", "relative to the directory"]],
  [["audit:verify"], ["audit:verify", "data/audit/audit.jsonl", "Exit code"]],
  [["replay:verify"], ["replay:verify", "--reality", "--url", "Exit code"]],
  [["harmonics:asm"], ["harmonics:asm", "-o", "--base64", "--disasm"]],
  [["arqon"], ["--server", "--token", "pub", "sub", "reply", "Exit codes"]],
  [["arqon", "sub"], ["--from-seq", "--from-time", "--json"]],
  [["bench"], ["deno task bench", "--seconds", "--rounds", "--no-pin"]],
  [["bench:native"], ["bench:native", "--messages", "--pings"]],
  [["bench:store"], ["bench:store", "--seconds", "--inflight", "--fill"]],
  [["bench:cluster"], ["bench:cluster", "--seconds", "--window", "--inflight"]],
  [["bench:security"], ["bench:security", "--seconds", "--calm-rate", "--only"]],
  [["bench:casil"], ["bench:casil", "--seconds", "--skip-node"]],
  [["bench:idle"], ["bench:idle", "--steps", "--engines"]],
  [["bench:operators"], ["bench:operators", "--quick", "--seconds"]],
  [["bench:replay"], ["bench:replay", "--pulses", "--window", "--no-pin"]],
  [["bench:sdk"], ["bench:sdk", "BENCH_ROUNDS", "BENCH_SECONDS"]],
  [["soak"], ["soak", "--seconds", "--only", "--seed"]],
];

async function task(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", ...args, "--help"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("each deno task prints its own usage for --help and exits 0", async () => {
  const failures: string[] = [];
  // Three at a time: each is a Deno start-up (and the machine is shared).
  const queue = [...TASKS];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [args, words] = next;
      const r = await task(args);
      const name = `deno task ${args.join(" ")} --help`;
      if (r.code !== 0) failures.push(`${name}: exit ${r.code}: ${r.stderr.slice(-400)}`);
      if (!/usage/i.test(r.stdout)) failures.push(`${name}: no usage on stdout`);
      for (const w of words) {
        if (!r.stdout.includes(w)) failures.push(`${name}: usage does not name ${w}`);
      }
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  assert.deepEqual(failures, []);
});

Deno.test("node --help: grouped, every flag once, within 100 columns, defaults in words", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}mod.ts`, "--help"],
    stdout: "piped",
  }).output();
  assert.equal(out.code, 0);
  const text = new TextDecoder().decode(out.stdout);
  const lines = text.split("\n");
  for (const l of lines) assert.ok(l.length <= 100, `over 100 columns: ${l}`);
  for (const f of NODE_FLAGS) {
    const at = lines.filter((l) => new RegExp(`^  --${f.flag}(\\s|$)`).test(l));
    assert.equal(at.length, 1, `--${f.flag} listed once`);
  }
  // A flag and its description never run together: a flag line is the flag, then spaces.
  for (const l of lines.filter((l) => /^ {2}--/.test(l))) {
    assert.match(l, /^ {2}--[a-z0-9-]+( <[^>]+>)?( {2,}\S.*)?$/, `run together: ${l}`);
  }
  assert.ok(lines.includes("Storage:") && lines.includes("MQTT:"), "grouped");
  assert.match(text, /--memory {2,}Keep the log in memory, no disk\. Default: off\./);
  assert.match(text, /Default: 1048576 \(1 MiB\)/);
  assert.match(text, /Default: \.\/data \(none with --memory\)/);
  assert.doesNotMatch(text, /default ""|Default: ""/, "no JSON empty strings as defaults");
  assert.equal(
    (text.match(/Default:/g) ?? []).length,
    NODE_FLAGS.length,
    "each flag states its default",
  );
});
