/**
 * The edge limits behind the TLS terminator, which hands decrypted connections to the
 * front door in process: the connection cap (503), the 431 for heads over 16 KiB and the
 * 408 for a head that never ends apply there as on plain TCP; with the `deno` WebSocket
 * engine an upgrade is piped through unframed and its session works.
 */
import assert from "node:assert/strict";
import { F } from "../support/pb.ts";
import { withNode } from "../support/node.ts";
import { createTestPki, type TestPki } from "../security_tls_fixture.ts";
import {
  afterHead,
  clientFrame,
  hello,
  jsonBody,
  protoFrames,
  readUntilClosed,
  serverFrames,
  upgradeRequest,
  write,
} from "./edge_support.ts";

let pki: TestPki | undefined;

async function tlsConnect(port: number): Promise<Deno.TlsConn> {
  pki ??= await createTestPki();
  const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [pki.caCert] });
  await conn.handshake();
  return conn;
}

async function tlsConfig(): Promise<{ tlsCert: string; tlsKey: string }> {
  pki ??= await createTestPki();
  return { tlsCert: `${pki.dir}/leaf.pem`, tlsKey: `${pki.dir}/leaf.key` };
}

Deno.test("edge (TLS): the connection cap, 431 and 408 apply to handed-over connections", async () => {
  await withNode(async (node) => {
    const port = node.port;
    const held: Deno.TlsConn[] = [];
    try {
      // A head over 16 KiB: 431, before anything reaches the HTTP server.
      const big = await tlsConnect(port);
      await write(big, `GET /healthz HTTP/1.1\r\nHost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`);
      const tooLarge = await readUntilClosed(big, 3000);
      big.close();
      assert.match(tooLarge.text, /^HTTP\/1\.1 431/);

      // A head that never ends: 408 after the header timeout.
      const slow = await tlsConnect(port);
      await write(slow, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
      const late = await readUntilClosed(slow, 3000);
      slow.close();
      assert.match(late.text, /^HTTP\/1\.1 408/);

      // Two kept-alive connections take the two slots; a third gets a 503.
      for (let i = 0; i < 2; i++) {
        const conn = await tlsConnect(port);
        await write(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        const { text } = await readUntilClosed(conn, 300);
        assert.match(text, /^HTTP\/1\.1 200/);
        held.push(conn);
      }
      const third = await tlsConnect(port);
      await write(third, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      const refused = await readUntilClosed(third, 3000);
      third.close();
      assert.match(refused.text, /^HTTP\/1\.1 503/);
      assert.equal(jsonBody(refused.text).error?.code, "QUOTA_EXCEEDED");

      // A slot freed is taken again.
      held.pop()!.close();
      await new Promise((r) => setTimeout(r, 200));
      const again = await tlsConnect(port);
      await write(again, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      const { text } = await readUntilClosed(again, 3000);
      again.close();
      assert.match(text, /^HTTP\/1\.1 200/);
    } finally {
      for (const c of held) c.close();
    }
  }, { ...await tlsConfig(), maxConnections: 2, httpHeaderTimeoutSeconds: 1 });
});

Deno.test("edge (TLS, deno engine): a WebSocket upgrade is piped through and welcomed", async () => {
  await withNode(async (node) => {
    const conn = await tlsConnect(node.port);
    try {
      await write(conn, upgradeRequest(node.port));
      await write(conn, clientFrame(hello("tls-deno")));
      // Past the HTTP idle and header deadlines (1 s): the upgraded pipe has none.
      const { bytes, closed } = await readUntilClosed(conn, 1500);
      assert.equal(closed, false);
      assert.match(new TextDecoder().decode(bytes.subarray(0, 12)), /^HTTP\/1\.1 101/);
      assert.ok(protoFrames(serverFrames(afterHead(bytes))).some(([k]) => k === F.welcome));
    } finally {
      conn.close();
    }
    // A refused upgrade (a foreign page) ends its connection: bytes after an upgrade
    // request are not framed, so a request pipelined behind it must not reach the server.
    const refused = await tlsConnect(node.port);
    try {
      await write(
        refused,
        upgradeRequest(node.port).replace("\r\n\r\n", "\r\nOrigin: https://evil.example\r\n\r\n") +
          "GET /healthz HTTP/1.1\r\nHost: x\r\nx-arqon-peer: 203.0.113.9:1\r\n\r\n",
      );
      const { text, closed } = await readUntilClosed(refused, 3000);
      assert.match(text, /^HTTP\/1\.1 403/);
      assert.equal(text.split("HTTP/1.1 ").length - 1, 1, text);
      assert.ok(closed);
    } finally {
      refused.close();
    }
  }, { ...await tlsConfig(), wsEngine: "deno", httpIdleTimeoutSeconds: 1 });
});

Deno.test("edge (TLS): remove the test PKI", async () => {
  await pki?.remove();
});
