/**
 * Who the client is, end to end: behind TLS the node sees each client's real address
 * (audit entries name it), HTTP publishes are rate limited per client (token subject or
 * DID, else address) with 429 + Retry-After, and `/metrics` wants an operator token when
 * the node requires auth (unless --metrics-open).
 *
 * Clients are raw sockets bound to distinct loopback addresses (127.0.0.2, 127.0.0.3, ...)
 * so the node has different clients to tell apart, and so the test knows each client's
 * address and port.
 */
import assert from "node:assert/strict";
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { type ArqonNode, startNode } from "../mod.ts";
import { encodeFrame, SUBPROTOCOL_PROTO } from "../runtime/protocol/mod.ts";
import { issueToken, type NodeSigningKey, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import type { NodeConfig } from "../runtime/node/mod.ts";
import { parseConfig } from "../runtime/node/mod.ts";
import { createTestPki, type TestPki } from "./security_tls_fixture.ts";

/** A connected raw client and the address the node should see for it. */
interface RawClient {
  readonly socket: Socket;
  /** `host:port` of the client's end. */
  readonly address: string;
}

/** Connects from `localAddress` to the node, over TLS (verified with `ca`) when given. */
function dial(node: ArqonNode, localAddress: string, ca?: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const tcp = tcpConnect({ host: "127.0.0.1", port: node.port, localAddress });
    tcp.once("error", reject);
    const address = () => `${tcp.localAddress}:${tcp.localPort}`;
    if (!ca) {
      tcp.once("connect", () => resolve({ socket: tcp, address: address() }));
      return;
    }
    const socket = tlsConnect(
      { socket: tcp, servername: "localhost", ca },
      () => resolve({ socket, address: address() }),
    );
    socket.once("error", reject);
  });
}

interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** One HTTP/1.1 request on its own connection (closed after the response). */
async function request(
  client: RawClient,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body = "",
): Promise<RawResponse> {
  const { socket } = client;
  const chunks: Uint8Array[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    socket.on("data", (d: Uint8Array) => chunks.push(new Uint8Array(d)));
    socket.once("end", resolve);
    socket.once("close", resolve);
    socket.once("error", reject);
  });
  const head = Object.entries({
    host: "localhost",
    connection: "close",
    "content-length": String(new TextEncoder().encode(body).length),
    ...headers,
  }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  socket.write(`${method} ${path} HTTP/1.1\r\n${head}\r\n${body}`);
  await ended;
  socket.destroy();
  const text = new TextDecoder().decode(concat(chunks));
  const split = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, split).split("\r\n");
  const status = Number(lines[0].split(" ")[1]);
  const parsed = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    parsed.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let rest = text.slice(split + 4);
  if (parsed.get("transfer-encoding") === "chunked") rest = dechunk(rest);
  return { status, headers: parsed, body: rest };
}

function dechunk(text: string): string {
  let out = "";
  let at = 0;
  while (at < text.length) {
    const eol = text.indexOf("\r\n", at);
    const size = parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) break;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
  return out;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}

/** Opens a WebSocket (`arqon.v1.proto`) on a raw client; resolves once upgraded. */
async function upgrade(client: RawClient): Promise<void> {
  const { socket } = client;
  let seen = "";
  const upgraded = new Promise<void>((resolve, reject) => {
    const onData = (d: Uint8Array) => {
      seen += new TextDecoder().decode(d);
      if (!seen.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      if (/^HTTP\/1\.1 101/.test(seen)) resolve();
      else reject(new Error(`no upgrade: ${seen}`));
    };
    socket.on("data", onData);
  });
  socket.write(
    "GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Protocol: ${SUBPROTOCOL_PROTO}\r\n\r\n`,
  );
  await upgraded;
}

/** A masked binary WebSocket frame, as a client must send it. */
function wsBinary(payload: Uint8Array): Uint8Array {
  const mask = [7, 1, 4, 2];
  const len = payload.length;
  const head = len < 126 ? [0x82, 0x80 | len] : [0x82, 0x80 | 126, len >> 8, len & 255];
  return new Uint8Array([...head, ...mask, ...payload.map((b, i) => b ^ mask[i % 4])]);
}

/** Resolves with the code of the node's close frame (or 1006 when the socket just ends). */
function closeCode(socket: Socket): Promise<number> {
  let buf: Uint8Array = new Uint8Array(0);
  return new Promise((resolve) => {
    socket.on("data", (d: Uint8Array) => {
      buf = concat([buf, new Uint8Array(d)]);
      // Server frames are unmasked: opcode, length (7, 16 or 64 bits), payload.
      while (buf.length >= 2) {
        let len = buf[1] & 0x7f;
        let at = 2;
        if (len === 126) [len, at] = [(buf[2] << 8) | buf[3], 4];
        else if (len === 127) [len, at] = [Number(new DataView(buf.buffer).getBigUint64(2)), 10];
        if (buf.length < at + len) return;
        if ((buf[0] & 0x0f) === 0x8) resolve((buf[at] << 8) | buf[at + 1]);
        buf = buf.slice(at + len);
      }
    });
    socket.once("close", () => resolve(1006));
  });
}

interface Fixture {
  node: ArqonNode;
  pki: TestPki;
  key: NodeSigningKey;
  admin: string;
}

async function withNode(
  config: Partial<NodeConfig> & { tls?: boolean; auth?: boolean },
  fn: (f: Fixture) => Promise<void>,
): Promise<void> {
  const { tls, auth, ...rest } = config;
  const pki = await createTestPki();
  const key = await writeNodeKeyFile(`${pki.dir}/node.key`);
  const node = await startNode({
    port: 0,
    log: "quiet",
    memory: true,
    ...(tls ? { tlsCert: `${pki.dir}/leaf.pem`, tlsKey: `${pki.dir}/leaf.key` } : {}),
    ...(auth ? { authKey: `${pki.dir}/node.key` } : {}),
    ...rest,
  });
  const admin = await issueToken(key, { subject: "root", realities: ["*"], roles: ["admin"] });
  try {
    await fn({ node, pki, key, admin });
  } finally {
    await node.shutdown();
    await pki.remove();
  }
}

function metric(text: string, pattern: RegExp): number {
  const m = text.match(pattern);
  return m ? Number(m[1]) : 0;
}

const RATE_LIMITED_HTTP =
  /arqon_rate_limited_total\{reality="lab",scope="connection",unit="pulses"\} (\d+)/;

/** Publishes `n` times to `lab`, each request on a new connection from `from(i)`. */
async function publishes(
  node: ArqonNode,
  n: number,
  from: (i: number) => string,
  headers: Record<string, string> = {},
  ca?: string,
): Promise<RawResponse[]> {
  const out: RawResponse[] = [];
  for (let i = 0; i < n; i++) {
    const client = await dial(node, from(i), ca);
    out.push(await request(client, "POST", "/v1/realities/lab/topics/load.x", headers, `p${i}`));
  }
  return out;
}

function assertRateLimited(res: RawResponse): void {
  assert.equal(res.status, 429);
  const body = JSON.parse(res.body);
  assert.equal(body.error.code, "RATE_LIMITED");
  assert.match(body.error.message, /^client over its limit of 1 pulses\/s/);
  const retry = Number(res.headers.get("retry-after"));
  assert.ok(
    Number.isInteger(retry) && retry >= 1,
    `Retry-After: ${res.headers.get("retry-after")}`,
  );
}

// ---- 1. the real client address behind TLS ----------------------------------------------

Deno.test("behind TLS, audit entries name the real client (WebSocket kick, HTTP token issue)", async () => {
  await withNode({ tls: true, auth: true }, async ({ node, pki, admin }) => {
    // A WebSocket client from 127.0.0.2 fails five hellos and is kicked.
    const ws = await dial(node, "127.0.0.2", pki.caCert);
    assert.match(ws.address, /^127\.0\.0\.2:\d+$/);
    await upgrade(ws);
    const closed = closeCode(ws.socket);
    for (let i = 0; i < 5; i++) {
      ws.socket.write(
        wsBinary(encodeFrame({ hello: { protocolVersion: 1, token: `guess-${i}` } })),
      );
    }
    assert.equal(await closed, 1008);
    ws.socket.destroy();

    // An admin on 127.0.0.3 issues a token over HTTPS.
    const http = await dial(node, "127.0.0.3", pki.caCert);
    const issued = await request(http, "POST", "/v1/tokens", {
      authorization: `Bearer ${admin}`,
      "content-type": "application/json",
    }, JSON.stringify({ subject: "svc", realities: ["lab"] }));
    assert.equal(issued.status, 201, issued.body);

    const reader = await dial(node, "127.0.0.4", pki.caCert);
    const audit = await request(reader, "GET", "/v1/audit", { authorization: `Bearer ${admin}` });
    assert.equal(audit.status, 200, audit.body);
    const entries = JSON.parse(audit.body).entries as {
      action: string;
      details: Record<string, unknown>;
    }[];
    const kick = entries.find((e) => e.action === "connection.kick");
    assert.equal(kick?.details.remote, ws.address, JSON.stringify(entries));
    assert.equal(kick?.details.transport, "ws");
    const issue = entries.find((e) => e.action === "token.issue");
    assert.equal(issue?.details.remote, http.address, JSON.stringify(entries));
  });
});

// ---- 2. HTTP rate limits per client ------------------------------------------------------

Deno.test("http publishes share their client's buckets across connections (open node: by address)", async () => {
  await withNode({ ratePulses: 1 }, async ({ node }) => {
    // Ten publishes from 127.0.0.2, each on a new connection: one burst of 1 pulse, so
    // all but (at most) the refills of the time taken are refused.
    const flood = await publishes(node, 10, () => "127.0.0.2");
    assert.equal(flood[0].status, 200, flood[0].body);
    const refused = flood.filter((r) => r.status !== 200);
    assert.ok(refused.length >= 1, "a fresh connection does not get a fresh bucket");
    for (const r of refused) assertRateLimited(r);

    // Another address has its own bucket: its first publish passes, whatever the time.
    const [other] = await publishes(node, 1, () => "127.0.0.3");
    assert.equal(other.status, 200, other.body);

    const text = await (await fetch(`${node.url}/metrics`)).text();
    assert.equal(metric(text, RATE_LIMITED_HTTP), refused.length);
    assert.match(text, /arqon_http_rate_clients [12]\b/);
  });
});

Deno.test("http rate limits follow the token subject when auth is on, not the address", async () => {
  await withNode({ auth: true, ratePulses: 1 }, async ({ node, key }) => {
    const alice = await issueToken(key, { subject: "alice", realities: ["lab"] });
    const bob = await issueToken(key, { subject: "bob", realities: ["lab"] });
    // Alice from two addresses: one subject, one bucket.
    const flood = await publishes(
      node,
      10,
      (i) => i % 2 ? "127.0.0.3" : "127.0.0.2",
      { authorization: `Bearer ${alice}` },
    );
    assert.equal(flood[0].status, 200, flood[0].body);
    const refused = flood.filter((r) => r.status !== 200);
    assert.ok(refused.length >= 1, "alice's bucket is shared by her addresses");
    for (const r of refused) assertRateLimited(r);
    // Bob on alice's address is another client.
    const [fromBob] = await publishes(node, 1, () => "127.0.0.2", {
      authorization: `Bearer ${bob}`,
    });
    assert.equal(fromBob.status, 200, fromBob.body);
  });
});

Deno.test("behind TLS the per-address bucket is the real client's, not the terminator's", async () => {
  await withNode({ tls: true, ratePulses: 1 }, async ({ node, pki }) => {
    const flood = await publishes(node, 10, () => "127.0.0.2", {}, pki.caCert);
    assert.equal(flood[0].status, 200, flood[0].body);
    const refused = flood.filter((r) => r.status !== 200);
    assert.ok(refused.length >= 1);
    for (const r of refused) assertRateLimited(r);
    // Seen as 127.0.0.1 (the terminator), this one would share the flooder's bucket.
    const [other] = await publishes(node, 1, () => "127.0.0.3", {}, pki.caCert);
    assert.equal(other.status, 200, other.body);
  });
});

Deno.test("the per-client table is capped (--http-rate-clients): evictions counted", async () => {
  await withNode({ ratePulses: 100, httpRateClients: 2 }, async ({ node }) => {
    const addresses = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
    const res = await publishes(node, addresses.length, (i) => addresses[i]);
    assert.deepEqual(res.map((r) => r.status), [200, 200, 200, 200]);
    const text = await (await fetch(`${node.url}/metrics`)).text();
    assert.equal(metric(text, /arqon_http_rate_clients (\d+)/), 2);
    assert.equal(metric(text, /arqon_http_rate_clients_evicted_total (\d+)/), 2);
  });
});

// ---- 3. /metrics authentication ----------------------------------------------------------

Deno.test("with auth, /metrics needs an admin or operator token; /healthz stays open", async () => {
  await withNode({ auth: true }, async ({ node, key, admin }) => {
    const get = (path: string, token?: string) =>
      fetch(`${node.url}${path}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    let res = await get("/metrics");
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, "UNAUTHORIZED");
    res = await get("/metrics", "not-a-token");
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, "UNAUTHORIZED");
    const client = await issueToken(key, { subject: "app", realities: ["lab"], roles: ["client"] });
    res = await get("/metrics", client);
    assert.equal(res.status, 403);
    const body = await res.json();
    assert.equal(body.error.code, "FORBIDDEN");
    assert.match(body.error.message, /reading \/metrics needs the admin or operator role/);

    const operator = await issueToken(key, { subject: "prometheus", roles: ["operator"] });
    for (const token of [operator, admin]) {
      res = await get("/metrics", token);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
      const text = await res.text();
      assert.match(text, /arqon_auth_refusals_total\{transport="http",code="UNAUTHORIZED"\} 2/);
      assert.match(text, /arqon_auth_refusals_total\{transport="http",code="FORBIDDEN"\} 1/);
    }
    res = await get("/healthz");
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, "ok");
  });
});

Deno.test("--metrics-open serves /metrics without a token and says so at start", async () => {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    await withNode({ auth: true, metricsOpen: true, log: "info" }, async ({ node }) => {
      const res = await fetch(`${node.url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /arqon_auth_refusals_total/);
      // The rest of the API still wants a token.
      const publish = await fetch(`${node.url}/v1/realities/lab/topics/t.x`, {
        method: "POST",
        body: "x",
      });
      assert.equal(publish.status, 401);
      await publish.body?.cancel();
    });
  } finally {
    console.warn = warn;
  }
  assert.ok(warnings.some((w) => /\/metrics is open \(--metrics-open\)/.test(w)), warnings.join());
});

Deno.test("the command line: --metrics-open / ARQON_METRICS_OPEN and --http-rate-clients", async () => {
  const flags = parseConfig(["--metrics-open", "--http-rate-clients", "50"], () => undefined);
  assert.ok(!flags.help && flags.config.metricsOpen && flags.config.httpRateClients === 50);
  const defaults = parseConfig([], () => undefined);
  assert.ok(!defaults.help && !defaults.config.metricsOpen);

  const pki = await createTestPki();
  await writeNodeKeyFile(`${pki.dir}/node.key`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../mod.ts", import.meta.url).pathname, "--port", "0", "--memory"],
    env: { ARQON_AUTH_KEY: `${pki.dir}/node.key`, ARQON_METRICS_OPEN: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const url = out.match(/ready on (http:\/\/\S+)/)?.[1];
    assert.ok(url, out);
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    await reader.cancel();
    const err = await new Response(child.stderr).text();
    assert.match(err, /\/metrics is open \(--metrics-open\)/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await pki.remove();
  }
});
