/**
 * A web page on another origin must not drive a node through its visitors' browsers: a
 * cross-origin `text/plain` POST (a "simple" request, sent without a preflight) and a
 * WebSocket upgrade carrying a foreign `Origin` are refused with 403, while clients that
 * send no `Origin` (curl, SDKs, servers) and the origins `--cors-origin` allows still work.
 * Raw sockets and fetch only: the runtime's WebSocket cannot choose its Origin header.
 */
import assert from "node:assert/strict";
import type { NodeConfig } from "../../mod.ts";
import { withNode } from "../support/node.ts";

const EVIL = "https://evil.example";

async function post(url: string, origin?: string, method = "POST") {
  const headers: Record<string, string> = { "content-type": "text/plain" };
  if (origin) headers.origin = origin;
  const res = await fetch(url, { method, headers, body: "hello" });
  const text = await res.text();
  return { status: res.status, text, allowOrigin: res.headers.get("access-control-allow-origin") };
}

/** Sends a WebSocket upgrade on a raw TCP socket; returns the response's status line. */
async function upgrade(port: number, origin?: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const head = "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n" +
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: arqon.v1.json\r\n" +
      (origin ? `Origin: ${origin}\r\n` : "") + "\r\n";
    await conn.write(new TextEncoder().encode(head));
    const buf = new Uint8Array(4096);
    let text = "";
    while (!text.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text.split("\r\n")[0];
  } finally {
    conn.close();
  }
}

async function sequenceAfterOneMore(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/realities/default/topics/probe.x`, { method: "POST" });
  return (await res.json()).sequence;
}

for (const wsEngine of ["arqon", "deno"] as const) {
  Deno.test(`origin (${wsEngine}): a foreign page's POST is refused; no Origin or same origin passes`, async () => {
    await withNode(async (node) => {
      const topic = `${node.url}/v1/realities/default/topics/chat.msg`;
      const foreign = await post(topic, EVIL);
      assert.equal(foreign.status, 403, foreign.text);
      assert.equal(JSON.parse(foreign.text).error.code, "FORBIDDEN");
      assert.match(JSON.parse(foreign.text).error.message, /origin/i);
      // Nothing was published by the refused request: the next publish is the first.
      assert.equal(await sequenceAfterOneMore(node.url), 1);
      assert.equal((await post(topic)).status, 200);
      assert.equal((await post(topic, node.url)).status, 200);
      assert.equal((await post(topic, "null")).status, 403);
      // Governance routes too.
      const policy = await post(`${node.url}/v1/policies/x?builtin=energy_cap`, EVIL, "PUT");
      assert.equal(policy.status, 403);
      const del = await post(`${node.url}/v1/policies/x`, EVIL, "DELETE");
      assert.equal(del.status, 403);
      // Reading is not state-changing: a GET with an Origin still works (the browser
      // withholds the answer from the page unless CORS allows it).
      const health = await fetch(`${node.url}/healthz`, { headers: { origin: EVIL } });
      assert.equal(health.status, 200);
      await health.body?.cancel();
    }, { wsEngine });
  });

  Deno.test(`origin (${wsEngine}): a WebSocket upgrade with a foreign Origin gets 403`, async () => {
    await withNode(async (node) => {
      assert.match(await upgrade(node.port, EVIL), /^HTTP\/1\.1 403/);
      assert.match(await upgrade(node.port), /^HTTP\/1\.1 101/);
      assert.match(await upgrade(node.port, node.url), /^HTTP\/1\.1 101/);
    }, { wsEngine });
  });
}

Deno.test("origin: --cors-origin allows the origins it names, with CORS headers", async () => {
  const config: Partial<NodeConfig> = { corsOrigin: "https://app.example, https://ops.example" };
  await withNode(async (node) => {
    const topic = `${node.url}/v1/realities/default/topics/chat.msg`;
    const ok = await post(topic, "https://app.example");
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.allowOrigin, "https://app.example");
    assert.equal((await post(topic, "https://ops.example")).status, 200);
    assert.equal((await post(topic, EVIL)).status, 403);
    assert.match(await upgrade(node.port, "https://app.example"), /^HTTP\/1\.1 101/);
    assert.match(await upgrade(node.port, EVIL), /^HTTP\/1\.1 403/);
  }, config);
});
