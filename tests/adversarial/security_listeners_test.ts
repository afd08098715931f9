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
import { NodeChild } from "./edge_support.ts";

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
    const node = await NodeChild.start(args(pki));
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

/** Sends raw bytes on one TCP connection and reads until `responses` responses ended. */
async function rawExchange(port: number, request: string, responses: number): Promise<string[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(65536);
    let text = "";
    const done = () => (text.match(/\r\n\r\n\{[^\n]*?\}\}?(?=HTTP\/1\.1|$)/g) ?? []).length;
    const deadline = Date.now() + 5000;
    while (text.split("HTTP/1.1 ").length - 1 < responses || done() < responses) {
      if (Date.now() > deadline) break;
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text.split(/(?=HTTP\/1\.1 \d{3})/).filter(Boolean);
  } finally {
    conn.close();
  }
}

Deno.test("listeners: keep-alive requests are relayed one by one, none can claim another address", async () => {
  const { withNode } = await import("../support/node.ts");
  await withNode(async (node) => {
    const post = (peer: string, body: string, chunked = false) =>
      `POST /v1/realities/default/topics/t.x HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `x-arqon-peer: ${peer}\r\n` +
      (chunked
        ? `transfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`
        : `content-length: ${body.length}\r\n\r\n${body}`);
    // Five pipelined requests on one connection, each claiming a fresh address: the
    // anonymous client's rate limit (one pulse a second, a small burst) counts them all
    // against its real address.
    const answers = await rawExchange(
      node.port,
      post("10.0.0.1:1", "a") + post("10.0.0.2:1", "bb", true) + post("10.0.0.3:1", "c") +
        post("10.0.0.4:1", "dd", true) + post("10.0.0.5:1", "e"),
      5,
    );
    const statuses = answers.map((a) => Number(a.slice(9, 12)));
    assert.equal(statuses.length, 5, answers.join("\n---\n"));
    assert.equal(statuses[0], 200);
    assert.ok(statuses.includes(429), `statuses ${statuses}`);
  }, { ratePulses: 1 });
});
