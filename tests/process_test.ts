/** The node as a user runs it: a child process started from the command line. */
import assert from "node:assert/strict";
import { ArqonClient, NODE_FLAGS } from "../mod.ts";

const modPath = new URL("../mod.ts", import.meta.url).pathname;

function spawnNode(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", modPath, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function firstLine(
  stream: ReadableStream<Uint8Array>,
): Promise<[string, ReadableStreamDefaultReader<string>]> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
  }
  return [buf.split("\n")[0], reader];
}

Deno.test("--help lists every flag", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", modPath, "--help"],
    stdout: "piped",
  }).output();
  assert.equal(out.code, 0);
  const text = new TextDecoder().decode(out.stdout);
  for (const flag of ["--config", "--help", ...NODE_FLAGS.map((f) => `--${f.flag}`)]) {
    assert.ok(text.includes(flag), `help mentions ${flag}`);
  }
  assert.match(text, /ARQON_PORT/);
});

Deno.test("a bad flag or value exits with code 2 and says why", async () => {
  for (const args of [["--nope"], ["--port", "abc"], ["--overflow", "explode"]]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", modPath, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2, args.join(" "));
    assert.match(new TextDecoder().decode(out.stderr), /arqon: .+/);
  }
});

Deno.test("config file + env start a node; SIGTERM drains and exits cleanly", async () => {
  const dir = await Deno.makeTempDir();
  const configFile = `${dir}/arqon.json`;
  await Deno.writeTextFile(configFile, JSON.stringify({ port: 7, queueMessages: 500 }));
  // Flags beat env, env beats the config file: the port comes from ARQON_PORT.
  const child = spawnNode(["--config", configFile, "--memory"], {
    ARQON_PORT: "0",
    ARQON_HOST: "127.0.0.1",
  });
  try {
    const [line, reader] = await firstLine(child.stdout);
    const m = line.match(/ready on (http:\/\/127\.0\.0\.1:(\d+)) \(ws (\S+)\)/);
    assert.ok(m, `ready line: ${line}`);
    assert.notEqual(m[2], "7");
    const health = await fetch(`${m[1]}/healthz`);
    assert.equal((await health.json()).status, "ok");
    const sub = await ArqonClient.connect(m[3], { reconnect: false });
    const s = sub.subscribe("bye.>");
    await s.ready;
    const res = await fetch(`${m[1]}/v1/realities/default/topics/bye.now`, {
      method: "POST",
      body: "x",
    });
    assert.equal((await res.json()).sequence, 1);
    child.kill("SIGTERM");
    const status = await child.status;
    assert.equal(status.code, 0);
    let rest = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += value;
    }
    assert.match(rest, /shutting down/);
    const got = [];
    for await (const p of s) got.push(p);
    assert.equal(got.length, 1, "the queued delivery went out before the close");
    await sub.close();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("out of file descriptors, the node refuses new sockets, then accepts again", async () => {
  // A low descriptor limit for the node only (lowering a limit needs no privilege).
  const child = new Deno.Command("sh", {
    args: ["-c", `ulimit -n 96 && exec "${Deno.execPath()}" run -A "${modPath}" --port 0 --memory`],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const [line, reader] = await firstLine(child.stdout);
  const url = line.match(/ready on (http:\/\/\S+)/)![1];
  const { hostname, port } = new URL(url);
  const held: Deno.Conn[] = [];
  try {
    // Far more connections than descriptors left: the node's accepts start failing.
    for (let i = 0; i < 150; i++) held.push(await Deno.connect({ hostname, port: Number(port) }));
    for (const c of held) c.close();
    held.length = 0;
    // Once they are gone the node serves again: over HTTP and over a raw WebSocket.
    let health: Response | undefined;
    for (let attempt = 0; attempt < 50 && !health?.ok; attempt++) {
      health = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })
        .catch(() => undefined);
      if (!health?.ok) await new Promise((r) => setTimeout(r, 100));
      else break;
    }
    assert.equal(health?.status, 200);
    await health!.body?.cancel();
    const client = await ArqonClient.connect(url.replace("http", "ws") + "/v1/ws", {
      reconnect: false,
    });
    assert.ok(await client.publish("fd.check", "after the storm"));
    await client.close();
  } finally {
    for (const c of held) c.close();
    child.kill("SIGTERM");
    await child.status;
    await reader.cancel();
    await child.stderr.cancel();
  }
});
