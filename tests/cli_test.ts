/**
 * The `arqon` CLI end to end: each command runs as a subprocess (`scripts/arqon.ts`) against
 * a real node on an ephemeral port; a raw WebSocket peer (tests/support/pb.ts) and fetch check
 * what the node really saw.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { withNode } from "./support/node.ts";
import { F, pb, type PbField } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";

const ENTRY = new URL("../scripts/arqon.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (ARQON_* env cleared so the test's flags are what count). */
async function arqon(args: string[], stdin?: string): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ENTRY, ...args],
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { ARQON_SERVER: "", ARQON_TOKEN: "", NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A long-running CLI process whose stderr is watched for a readiness line. */
class Background {
  readonly child: Deno.ChildProcess;
  #stderr = "";
  #exited = false;
  readonly #stdoutText: Promise<string>;
  readonly #stderrDone: Promise<void>;

  constructor(args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ENTRY, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { ARQON_SERVER: "", ARQON_TOKEN: "", NO_COLOR: "1" },
    }).spawn();
    this.#stdoutText = new Response(this.child.stdout).text();
    this.child.status.then(() => this.#exited = true);
    const stderr = this.child.stderr;
    this.#stderrDone = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of stderr) this.#stderr += dec.decode(chunk);
    })();
  }

  /** Waits until stderr contains `text`. */
  async ready(text: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#stderr.includes(text)) {
      if (Date.now() > deadline || this.#exited) {
        throw new Error(`no "${text}" on stderr: ${this.#stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for the exit; resolves with the code and output. */
  async done(): Promise<Run> {
    const [status, stdout] = await Promise.all([this.child.status, this.#stdoutText]);
    await this.#stderrDone;
    return { code: status.code, stdout, stderr: this.#stderr };
  }
}

Deno.test("cli: pub then history shows it; stdin payload, headers, --ack durable, --count", async () => {
  await withNode(async (node) => {
    const s = ["--server", node.wsUrl];
    let r = await arqon(["realities", "create", "lab", "--retain", "orders.>", ...s]);
    assert.equal(r.code, 0, r.stderr);
    r = await arqon([
      "pub",
      "orders.created",
      '{"id":1}',
      "-t",
      "application/json",
      "-r",
      "lab",
      ...s,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^published orders\.created #1 \(lab\) id \S+/);
    r = await arqon(
      ["pub", "orders.paid", "-", "-r", "lab", "--ack", "durable", "-H", "k=v", "--json", ...s],
      "from stdin",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).sequence, 2);
    r = await arqon(["pub", "orders.bulk", "x", "-r", "lab", "--count", "5", "--json", ...s]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n").map((l) => JSON.parse(l).sequence), [
      3,
      4,
      5,
      6,
      7,
    ]);

    r = await arqon(["history", "orders.>", "-r", "lab", "--json", ...s]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 7);
    assert.deepEqual(lines[0].data, { id: 1 });
    assert.equal(lines[1].payload, "from stdin");
    assert.deepEqual(lines[1].headers, { k: "v" });
    r = await arqon(["history", "orders.>", "-r", "lab", "--from-seq", "3", "--limit", "2", ...s]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "[#3] orders.bulk (lab): x",
      "[#4] orders.bulk (lab): x",
    ]);
    // The same pulses over HTTP, as the node stored them.
    const http = await (await fetch(`${node.url}/v1/realities/lab/history?limit=100`)).text();
    assert.equal(http.trim().split("\n").length, 7);
  }, { memory: true });
});

Deno.test("cli: sub --json --count receives a raw client's publishes in order, then exits", async () => {
  await withNode(async (node) => {
    const sub = new Background([
      "sub",
      "feed.>",
      "--json",
      "--count",
      "20",
      "--server",
      node.wsUrl,
    ]);
    await sub.ready("subscribed to feed.>");
    const raw = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    raw.send(pb([[F.hello, [[1, "raw"], [2, 1]]]]));
    await raw.wait(F.welcome);
    for (let i = 0; i < 25; i++) {
      const pulse: PbField[] = [[3, `feed.n${i}`], [11, new TextEncoder().encode(`m${i}`)]];
      raw.send(pb([[F.publish, [[1, i + 1], [2, 1], [3, pulse]]]]));
    }
    await raw.wait(F.ack, 25);
    const r = await sub.done();
    await raw.close();
    assert.equal(r.code, 0, r.stderr);
    const got = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(got.length, 20); // --count 20: exits after 20 of the 25
    assert.deepEqual(got.map((p) => p.topic), [...Array(20)].map((_, i) => `feed.n${i}`));
    assert.deepEqual(got.map((p) => p.payload), [...Array(20)].map((_, i) => `m${i}`));
    assert.deepEqual(got.map((p) => p.sequence), [...Array(20)].map((_, i) => i + 1));
  });
});

Deno.test("cli: req against a reply --template responder, and a command responder", async () => {
  await withNode(async (node) => {
    const s = ["--server", node.wsUrl];
    const tpl = new Background([
      "reply",
      "greet.*",
      "--template",
      "hi {{payload}} on {{topic}}",
      "--count",
      "2",
      ...s,
    ]);
    await tpl.ready("replying on greet.*");
    let r = await arqon(["req", "greet.en", "ada", ...s]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hi ada on greet.en\n");
    r = await arqon(["req", "greet.fr", "-", "--json", ...s], "bob");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).payload, "hi bob on greet.fr");
    assert.equal((await tpl.done()).code, 0); // --count 2 reached

    const cmd = new Background([
      "reply",
      "math.double",
      "--count",
      "1",
      ...s,
      "--",
      "sh",
      "-c",
      "read n; echo $((n * 2))",
    ]);
    await cmd.ready("replying on math.double");
    r = await arqon(["req", "math.double", "21", ...s]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "42\n");
    assert.equal((await cmd.done()).code, 0);
  });
});

Deno.test("cli: operators put --builtin echo, then list and get show it; stop and delete", async () => {
  await withNode(async (node) => {
    const s = ["--server", node.wsUrl];
    let r = await arqon([
      "operators",
      "put",
      "bridge",
      "--builtin",
      "echo",
      "--input",
      "in.>",
      "--config",
      '{"to":"out.echo"}',
      ...s,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status, "running");
    r = await arqon(["operators", "list", ...s]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"bridge"/);
    // The operator really runs: a publish on in.x comes out on out.echo.
    const sub = new Background(["sub", "out.echo", "--count", "1", ...s]);
    await sub.ready("subscribed to out.echo");
    assert.equal((await arqon(["pub", "in.x", "ping", ...s])).code, 0);
    const got = await sub.done();
    assert.match(got.stdout, /out\.echo: ping/);
    r = await arqon(["operators", "stop", "bridge", ...s]);
    assert.equal(r.code, 0, r.stderr);
    r = await arqon(["operators", "delete", "bridge", ...s]);
    assert.equal(r.code, 0, r.stderr);
    r = await arqon(["operators", "get", "bridge", ...s]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^arqon: NOT_FOUND: no operator bridge\n$/);
    r = await arqon(["operators", "put", "x", "--builtin", "no-such-op", ...s]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /NOT_FOUND|INVALID_ARGUMENT/);
  });
});

Deno.test("cli: typed errors exit 2 with the code; refused connection 3; timeout 4; usage 1", async () => {
  await withNode(async (node) => {
    const s = ["--server", node.wsUrl];
    let r = await arqon(["pub", "bad..topic", "x", ...s]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^arqon: INVALID_TOPIC: topic has an empty segment\n$/);
    assert.doesNotMatch(r.stderr, /\n\s+at /); // no stack trace
    r = await arqon(["req", "nobody.home", "x", "--timeout", "300ms", ...s]);
    assert.ok(r.code === 2 || r.code === 4, `${r.code} ${r.stderr}`);
    assert.match(r.stderr, /^arqon: (NO_RESPONDERS|TIMEOUT): /);
    // A responder that never answers: the request times out.
    const mute = new Background(["reply", "slow", ...s, "--", "sleep", "5"]);
    await mute.ready("replying on slow");
    r = await arqon(["req", "slow", "x", "--timeout", "300ms", ...s]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /^arqon: TIMEOUT: /);
    mute.child.kill();
    await mute.done();
    r = await arqon(["policies", "get", "nope", ...s]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /NOT_FOUND/);
    // The node still serves after all of that.
    assert.equal((await arqon(["pub", "ok.topic", "x", ...s])).code, 0);
  });
  // Nothing listens on the port of a stopped node.
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  for (const args of [["pub", "a", "b"], ["sub", "a"], ["realities", "list"]]) {
    const r = await arqon([...args, "--server", `ws://127.0.0.1:${port}/v1/ws`]);
    assert.equal(r.code, 3, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /^arqon: cannot (connect to|reach) /);
  }
  for (
    const args of [["pub"], ["frobnicate"], ["pub", "a", "b", "--count", "zero"], ["reply", "t"], [
      "bench",
      "--size",
      "2",
    ]]
  ) {
    const r = await arqon([...args, "--server", `ws://127.0.0.1:${port}`]);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
  }
});

Deno.test("cli: --help of every command is real and readable", async () => {
  const commands = [
    ["pub"],
    ["sub"],
    ["req"],
    ["reply"],
    ["history"],
    ["realities"],
    ["realities", "create"],
    ["policies"],
    ["policies", "put"],
    ["operators"],
    ["operators", "put"],
    ["token"],
    ["bench"],
  ];
  const top = await arqon(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /Exit codes: 0 ok, 1 usage error/);
  for (const c of commands) assert.match(top.stdout, new RegExp(`\\n  ${c[0]} `));
  for (const c of commands) {
    const r = await arqon([...c, "--help"]);
    assert.equal(r.code, 0, `${c.join(" ")}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: arqon ${c.join(" ")} `), c.join(" "));
    assert.match(r.stdout, /--server <url>/);
    for (const line of r.stdout.split("\n")) assert.ok(line.length <= 100, `${c}: ${line}`);
  }
});

Deno.test("cli: token issues from an auth node; the token works and its grants hold", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-cli-auth-" });
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  const admin = await issueToken(key, { subject: "root", roles: ["admin"] });
  await withNode(async (node) => {
    const s = ["--server", node.wsUrl];
    // No token: refused with the node's typed error, exit 2.
    let r = await arqon(["pub", "sensor.7.temp", "1", ...s]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^arqon: UNAUTHORIZED: /);
    r = await arqon(["token", "--subject", "s7", "--publish", "sensor.7.>", "--ttl", "60", ...s]);
    assert.equal(r.code, 2, r.stderr); // issuing needs the admin role
    r = await arqon([
      "token",
      "--subject",
      "s7",
      "--reality",
      "default",
      "--publish",
      "sensor.7.>",
      "--ttl",
      "60",
      "--token",
      admin,
      ...s,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    r = await arqon(["pub", "sensor.7.temp", "1", "--token", token, ...s]);
    assert.equal(r.code, 0, r.stderr);
    r = await arqon(["pub", "sensor.8.temp", "1", "--token", token, ...s]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^arqon: FORBIDDEN: /);
  }, { memory: true, authKey: `${dir}/node.key` });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli: realities and policies round trip; the size-cap policy refuses with exit 2", async () => {
  await withNode(async (node) => {
    const s = ["--server", node.wsUrl];
    let r = await arqon([
      "realities",
      "create",
      "lab",
      "--config",
      '{"retention":[{"pattern":">"}]}',
      ...s,
    ]);
    assert.equal(r.code, 0, r.stderr);
    r = await arqon(["realities", "list", ...s]);
    assert.match(r.stdout, /"lab"/);
    r = await arqon(["realities", "create", "bad", "--config", "{nope", ...s]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^arqon: --config: not valid JSON/);
    r = await arqon([
      "policies",
      "put",
      "size",
      "--builtin",
      "payload_size_cap",
      "--config",
      '{"max_bytes":8}',
      ...s,
    ]);
    assert.equal(r.code, 0, r.stderr);
    r = await arqon(["policies", "list", ...s]);
    assert.match(r.stdout, /"size"/);
    r = await arqon(["pub", "any.topic", "this payload is longer than eight bytes", ...s]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^arqon: POLICY_DENIED: /);
    r = await arqon(["policies", "delete", "size", ...s]);
    assert.equal(r.code, 0, r.stderr);
    r = await arqon(["pub", "any.topic", "this payload is longer than eight bytes", ...s]);
    assert.equal(r.code, 0, r.stderr);
    r = await arqon(["realities", "delete", "lab", ...s]);
    assert.equal(r.code, 0, r.stderr);
    r = await arqon(["realities", "get", "lab", ...s]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^arqon: NOT_FOUND: /);
  }, { memory: true });
});

Deno.test("cli: bench counts every pulse; a sub whose node dies exits 3", async () => {
  await withNode(async (node) => {
    const r = await arqon([
      "bench",
      "--count",
      "2000",
      "--size",
      "64",
      "--json",
      "--server",
      node.wsUrl,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.sent, 2000);
    assert.equal(result.received, 2000);
    assert.ok(result.p99Ms >= result.p50Ms && result.p50Ms >= 0);
    assert.ok(result.publishRate > 0 && result.deliveryRate > 0);
    const paced = await arqon([
      "bench",
      "-n",
      "300",
      "--rate",
      "3000",
      "--json",
      "--server",
      node.wsUrl,
    ]);
    assert.equal(paced.code, 0, paced.stderr);
    assert.equal(JSON.parse(paced.stdout).received, 300);
    // pub --count past the in-flight window (1000): every ack, in order.
    const many = await arqon([
      "pub",
      "w.x",
      "y",
      "--count",
      "2500",
      "--json",
      "--server",
      node.wsUrl,
    ]);
    assert.equal(many.code, 0, many.stderr);
    const seqs = many.stdout.trim().split("\n").map((l) => JSON.parse(l).sequence);
    assert.deepEqual(seqs, [...Array(2500)].map((_, i) => seqs[0] + i));
  });
  const node = await startNode({ port: 0, log: "quiet", memory: true, shutdownGraceMs: 200 });
  const sub = new Background(["sub", "x.>", "--server", node.wsUrl]);
  await sub.ready("subscribed to x.>");
  await node.shutdown();
  const r = await sub.done();
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /arqon: .*(lost|closed|SHUTTING_DOWN)/);
});

Deno.test("cli: operators put --component uploads multipart; binary payloads print as base64", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-cli-op-" });
  await Deno.copyFile(`${ROOT}build/operators/builtin/echo.wasm`, `${dir}/op.wasm`);
  await Deno.writeTextFile(
    `${dir}/m.json`,
    JSON.stringify({ inputs: ["bin.in"], config: { to: "bin.out" } }),
  );
  await withNode(async (node) => {
    const s = ["--server", node.wsUrl];
    let r = await arqon([
      "operators",
      "put",
      "up",
      "--manifest",
      `${dir}/nope.json`,
      "--component",
      `${dir}/op.wasm`,
      ...s,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^arqon: --manifest: cannot read /);
    r = await arqon([
      "operators",
      "put",
      "up",
      "--component",
      `${dir}/op.wasm`,
      "--manifest",
      `${dir}/m.json`,
      ...s,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status, "running");
    const sub = new Background(["sub", "bin.out", "--json", "--count", "1", ...s]);
    await sub.ready("subscribed to bin.out");
    // Bytes that are not UTF-8, published by a raw client into the uploaded operator.
    const raw = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    raw.send(pb([[F.hello, [[1, "raw"], [2, 1]]]]));
    await raw.wait(F.welcome);
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x80]);
    raw.send(pb([[F.publish, [[1, 1], [2, 1], [3, [[3, "bin.in"], [11, bytes]]]]]]));
    await raw.wait(F.ack);
    const got = await sub.done();
    await raw.close();
    assert.equal(got.code, 0, got.stderr);
    const pulse = JSON.parse(got.stdout);
    assert.equal(pulse.topic, "bin.out");
    assert.equal(pulse.payload_base64, "//4AgA==");
    assert.equal(pulse.producer, "operator:up");
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli: a reply command that fails still answers with its output; bad --server is usage", async () => {
  await withNode(async (node) => {
    const s = ["--server", node.wsUrl];
    const bad = new Background([
      "reply",
      "flaky",
      "--count",
      "1",
      ...s,
      "--",
      "sh",
      "-c",
      "echo partial; exit 3",
    ]);
    await bad.ready("replying on flaky");
    const r = await arqon(["req", "flaky", "x", ...s]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "partial\n");
    const done = await bad.done();
    assert.equal(done.code, 0);
    assert.match(done.stderr, /arqon: sh exited with 3/);
  });
  for (const server of ["ftp://x", "ws://"]) {
    const r = await arqon(["pub", "a", "b", "--server", server]);
    assert.equal(r.code, 1, `${server}: ${r.stderr}`);
    assert.match(r.stderr, /^arqon: --server: /);
  }
});

Deno.test("cli: two sub --queue members share the pulses: each once, none lost", async () => {
  await withNode(async (node) => {
    const s = ["--server", node.wsUrl];
    const members = [0, 1].map(() =>
      new Background(["sub", "jobs.>", "--queue", "w", "--json", ...s])
    );
    for (const m of members) await m.ready("subscribed to jobs.>");
    const r = await arqon(["pub", "jobs.run", "j", "--count", "40", "--json", ...s]);
    assert.equal(r.code, 0, r.stderr);
    // Let the deliveries land, then stop both members and count what they printed.
    await new Promise((res) => setTimeout(res, 500));
    const outs = [];
    for (const m of members) {
      m.child.kill("SIGTERM");
      outs.push(await m.done());
    }
    const seqs = outs.flatMap((o) =>
      o.stdout.trim().split("\n").filter((l) => l).map((l) => JSON.parse(l).sequence as number)
    );
    assert.equal(seqs.length, 40);
    assert.deepEqual([...seqs].sort((a, b) => a - b), [...Array(40)].map((_, i) => i + 1));
  });
});
