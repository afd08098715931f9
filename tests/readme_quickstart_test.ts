/**
 * The README's quick start, run as written so it cannot rot: the node is started with the
 * README's own command (`deno task start`, plus an ephemeral port and a temporary data
 * directory), every `curl` of its shell blocks runs through `sh`, the browser snippet runs as
 * is on Deno's `EventSource`, the Python snippet with `/usr/bin/python3` and the SDK on
 * `PYTHONPATH`, and the TypeScript snippet from a directory outside the repository with the
 * repository's `deno.json` (the import of `@arqon/bus/client` a user writes). The node is then
 * stopped with SIGINT as the README says, and started again on the same data to check that the
 * history is still there. Only the address changes: 127.0.0.1:7420 becomes the node's port.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;
const PYTHON = Deno.env.get("ARQON_PYTHON") ?? "/usr/bin/python3";

interface Block {
  lang: string;
  code: string;
}

/** The fenced blocks of the README's "Quick start" section, in order. */
async function quickStartBlocks(): Promise<Block[]> {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const start = readme.indexOf("## Quick start");
  assert.ok(start >= 0, "README has a Quick start section");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1],
    code: m[2],
  }));
}

/** Shell commands of a block: continuation lines joined, comments and blanks dropped. */
function shellCommands(code: string): string[] {
  return code.replace(/\\\n\s*/g, "").split("\n").map((l) => l.trim()).filter((l) =>
    l && !l.startsWith("#")
  );
}

/** A node started as the README says, reading its stdout lines. */
class ReadmeNode {
  readonly lines: string[] = [];
  url = "";
  #child: Deno.ChildProcess;
  #done: Promise<void>;
  #ready: Promise<void>;

  constructor(command: string, dataDir: string) {
    const [deno, task, start] = command.split(" ");
    assert.deepEqual([deno, task, start], ["deno", "task", "start"], "step 1 is `deno task start`");
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["task", "start", "--port", "0", "--data-dir", dataDir],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    let resolveReady!: () => void;
    this.#ready = new Promise((r) => resolveReady = r);
    const stdout = this.#child.stdout;
    this.#done = (async () => {
      let rest = "";
      for await (const text of stdout.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + text).split("\n");
        rest = parts.pop()!;
        for (const line of parts) {
          this.lines.push(line);
          const m = line.match(/ready on (http:\/\/\S+)/);
          if (m) this.url = m[1];
          if (line.startsWith("arqon: data ")) resolveReady();
        }
      }
      resolveReady();
    })();
    this.#child.stderr.pipeTo(new WritableStream()).catch(() => {});
  }

  async ready(): Promise<void> {
    const timer = setTimeout(() => this.kill("SIGKILL"), 120_000);
    await this.#ready;
    clearTimeout(timer);
    assert.ok(this.url, `the node printed its ready line:\n${this.lines.join("\n")}`);
  }

  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch { /* gone */ }
  }

  /** Ctrl-C, as the README's step 7 says; resolves with the exit code. */
  async stop(): Promise<number> {
    this.kill("SIGINT");
    const timer = setTimeout(() => this.kill("SIGKILL"), 30_000);
    const status = await this.#child.status;
    clearTimeout(timer);
    await this.#done;
    return status.code;
  }
}

/** Runs a command through sh; its stdout, and the HTTP status curl reports at the end. */
async function curl(command: string, url: string): Promise<{ status: number; body: string }> {
  assert.match(command, /^curl /, command);
  const line = command.replaceAll("http://127.0.0.1:7420", url) + ` -sS -w '\\n%{http_code}'`;
  const out = await new Deno.Command("sh", { args: ["-c", line], stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `${line}: ${new TextDecoder().decode(out.stderr)}`);
  const at = text.lastIndexOf("\n");
  return { status: Number(text.slice(at + 1)), body: text.slice(0, at) };
}

async function run(cmd: string, args: string[], options: Deno.CommandOptions = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    ...options,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("README quick start: every step works as written against a real node", async () => {
  const blocks = await quickStartBlocks();
  const langs = blocks.map((b) => b.lang);
  assert.deepEqual(langs, ["sh", "sh", "sh", "js", "python", "ts"], "the steps the test knows");
  const [startBlock, retentionBlock, publishBlock, browserBlock, pythonBlock, tsBlock] = blocks;
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-readme-data-" });
  const outside = await Deno.makeTempDir({ prefix: "arqon-readme-user-" });
  let node: ReadmeNode | undefined;
  try {
    // 1. Start; the node says where its data goes.
    node = new ReadmeNode(shellCommands(startBlock.code)[0], dataDir);
    await node.ready();
    const url = node.url;
    const ws = url.replace(/^http/, "ws") + "/v1/ws";
    assert.ok(
      node.lines.some((l) => l.startsWith(`arqon: data in ${dataDir} `)),
      `the start names the data directory:\n${node.lines.join("\n")}`,
    );

    // 2. The retention rule.
    const [retention] = shellCommands(retentionBlock.code);
    const rule = await curl(retention, url);
    assert.equal(rule.status, 201, `the reality is created: ${rule.body}`);

    // 3. Publish with curl, then read the history.
    const [publish, history] = shellCommands(publishBlock.code);
    const pub = await curl(publish, url);
    assert.equal(pub.status, 200, pub.body);
    const ack = JSON.parse(pub.body);
    assert.equal(ack.sequence, 1, "the first pulse of a fresh node is sequence 1, as shown");
    assert.match(ack.id, /^[0-9a-f-]{36}$/);
    const hist = await curl(history, url);
    assert.equal(hist.status, 200, hist.body);
    const stored = hist.body.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(stored.length, 1);
    assert.deepEqual(stored[0].data, { total: 42 });
    assert.equal(stored[0].topic, "orders.eu.created");

    // 4. The browser snippet, as is, on Deno's EventSource; it logs the stored pulse.
    const page = `${outside}/page.js`;
    await Deno.writeTextFile(
      page,
      browserBlock.code.replaceAll("http://127.0.0.1:7420", url) +
        // After the snippet's own listener logged the first pulse, close (a slow machine gets
        // 60 s for it to arrive).
        `\nevents.addEventListener("pulse", () => events.close());\n` +
        `const guard = setTimeout(() => events.close(), 60_000);\n` +
        `events.addEventListener("pulse", () => clearTimeout(guard));\n`,
    );
    const browser = await run(Deno.execPath(), ["run", "--allow-net", page]);
    assert.equal(browser.code, 0, browser.stderr);
    assert.equal(browser.stdout.trim(), "1 orders.eu.created { total: 42 }");

    // 5. Python: publishes sequence 2, prints the stored pulse and its own.
    await Deno.writeTextFile(
      `${outside}/quick.py`,
      pythonBlock.code.replaceAll("ws://127.0.0.1:7420/v1/ws", ws),
    );
    const py = await run(PYTHON, [`${outside}/quick.py`], {
      cwd: outside,
      env: { PYTHONPATH: `${ROOT}sdk/python` },
    });
    assert.equal(py.code, 0, py.stderr);
    assert.deepEqual(py.stdout.trim().split("\n"), [
      "published 2",
      "1 orders.eu.created {'total': 42}",
      "2 orders.jp.created {'total': 7}",
    ]);

    // 6. TypeScript, from a directory outside the repository, importing @arqon/bus/client.
    await Deno.writeTextFile(
      `${outside}/agent.ts`,
      tsBlock.code.replaceAll("ws://127.0.0.1:7420/v1/ws", ws),
    );
    const ts = await run(
      Deno.execPath(),
      ["run", "-A", "--config", `${ROOT}deno.json`, "agent.ts"],
      { cwd: outside },
    );
    assert.equal(ts.code, 0, ts.stderr);
    assert.deepEqual(ts.stdout.trim().split("\n"), [
      "published 3",
      '1 orders.eu.created {"total":42}',
      '2 orders.jp.created {"total": 7}', // Python's json.dumps spacing
      '3 orders.us.created {"total":9}',
    ]);

    // 7. Stop with Ctrl-C: drains and exits 0.
    assert.equal(await node.stop(), 0);
    assert.ok(node.lines.some((l) => l.includes("shutting down")), node.lines.join("\n"));
    node = undefined;

    // Started again on the same data, the history is still there and the sequence goes on.
    node = new ReadmeNode("deno task start", dataDir);
    await node.ready();
    const again = await curl(history, node.url);
    assert.deepEqual(
      again.body.trim().split("\n").map((l) => JSON.parse(l).sequence),
      ["1", "2", "3"],
    );
    const next = await curl(publish, node.url);
    assert.equal(JSON.parse(next.body).sequence, 4);
  } finally {
    await node?.stop();
    await Deno.remove(dataDir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
