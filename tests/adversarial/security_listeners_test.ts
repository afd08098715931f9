/**
 * Only the configured port accepts clients. A node used to open plain HTTP listeners on
 * random loopback ports behind its TLS terminator and its front door, which took bearer
 * tokens in clear text from any local process (and, behind the front door, let loopback
 * clients skip its per-address limits). The node runs here as its own process; its
 * listening TCP sockets are read from /proc (the sockets among its file descriptors that
 * /proc/net/tcp{,6} lists as LISTEN) and must be exactly the public port, in every
 * listener configuration. Requests still flow over fetch, TLS included.
 */
import assert from "node:assert/strict";
import { createTestPki, type TestPki } from "../security_tls_fixture.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Listening TCP ports held by process `pid` (Linux /proc). */
async function listeningPorts(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      const target = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`);
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const ports = new Set<number>();
  for (const table of ["tcp", "tcp6"]) {
    let text = "";
    try {
      text = await Deno.readTextFile(`/proc/${pid}/net/${table}`);
    } catch {
      continue;
    }
    for (const line of text.trim().split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [, local, , state, , , , , , inode] = cols;
      if (state !== "0A" || !inodes.has(inode)) continue; // 0A: LISTEN
      ports.add(parseInt(local.split(":")[1], 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/** Runs mod.ts as a child with `args`; resolves once it is ready. */
async function startProcess(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", "--port", "0", "--memory", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`node exited before listening:\n${seen}\n${await stderr}`);
    seen += value;
    const match = seen.match(/ready on (\S+) \(ws (\S+)\)/);
    if (match) {
      const drained = (async () => {
        while (!(await reader.read()).done) { /* drain */ }
        return await stderr;
      })();
      const url = match[1];
      return {
        pid: child.pid,
        url,
        port: Number(new URL(url).port),
        stop: async () => {
          child.kill("SIGTERM");
          await child.status;
          await drained;
        },
      };
    }
  }
}

let pki: TestPki | undefined;

const CASES: [string, (p: TestPki) => string[]][] = [
  ["plain, arqon WebSocket engine", () => []],
  ["plain, deno WebSocket engine", () => ["--ws-engine", "deno"]],
  [
    "TLS, arqon WebSocket engine",
    (p) => ["--tls-cert", `${p.dir}/leaf.pem`, "--tls-key", `${p.dir}/leaf.key`],
  ],
  [
    "TLS, deno WebSocket engine",
    (
      p,
    ) => [
      "--tls-cert",
      `${p.dir}/leaf.pem`,
      "--tls-key",
      `${p.dir}/leaf.key`,
      "--ws-engine",
      "deno",
    ],
  ],
];

for (const [name, args] of CASES) {
  Deno.test(`listeners (${name}): the public port is the only TCP port open`, async () => {
    pki ??= await createTestPki();
    const node = await startProcess(args(pki));
    const client = Deno.createHttpClient({ caCerts: [pki.caCert] });
    try {
      // A request over the public port, so every lazily started listener is up.
      const base = node.url.replace("127.0.0.1", "localhost");
      const res = await fetch(`${base}/v1/realities/default/topics/t.x`, {
        method: "POST",
        body: "x",
        client,
      });
      assert.equal(res.status, 200, await res.text());
      const health = await fetch(`${base}/healthz`, { client });
      assert.equal(health.status, 200);
      await health.body?.cancel();
      assert.deepEqual(await listeningPorts(node.pid), [node.port]);
    } finally {
      client.close();
      await node.stop();
    }
  });
}
