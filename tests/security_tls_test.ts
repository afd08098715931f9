import assert from "node:assert/strict";
import { startTlsTerminator } from "../runtime/shield/tls/mod.ts";
import { createTestPki, sClient } from "./security_tls_fixture.ts";

/** A plain loopback server standing in for the node: HTTP echo and a WebSocket echo. */
function startPlainBackend(seenPorts: number[]) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => {
    seenPorts.push((info.remoteAddr as Deno.NetAddr).port);
    if (req.headers.get("upgrade") === "websocket") {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(`echo:${e.data}`);
      return response;
    }
    return new Response(`plain says hi to ${new URL(req.url).pathname}`);
  });
}

async function readUntil(
  conn: Deno.Conn,
  done: (bytes: Uint8Array) => boolean,
): Promise<Uint8Array> {
  let all = new Uint8Array(0);
  const buf = new Uint8Array(4096);
  while (!done(all)) {
    const n = await conn.read(buf);
    if (n === null) break;
    const next = new Uint8Array(all.length + n);
    next.set(all);
    next.set(buf.subarray(0, n), all.length);
    all = next;
  }
  return all;
}

Deno.test("TLS terminator: TLS 1.2 refused, TLS 1.3 carries HTTP and WebSocket", async () => {
  const pki = await createTestPki();
  const seenPorts: number[] = [];
  const backend = startPlainBackend(seenPorts);
  const handshakeErrors: string[] = [];
  const tls = await startTlsTerminator({
    cert: pki.cert,
    key: pki.key,
    hostname: "127.0.0.1",
    port: 0,
    upstream: { hostname: "127.0.0.1", port: backend.addr.port },
    onHandshakeError: (e) => handshakeErrors.push(e.message),
  });
  try {
    const old = await sClient(tls.port, "-tls1_2", `${pki.dir}/ca.pem`);
    assert.notEqual(old.code, 0, old.output);
    assert.doesNotMatch(old.output, /Protocol version: TLSv1\.2/);
    assert.match(old.output, /alert protocol version/, old.output);

    const modern = await sClient(tls.port, "-tls1_3", `${pki.dir}/ca.pem`);
    assert.match(modern.output, /Protocol version: TLSv1\.3/, modern.output);
    assert.match(modern.output, /Verification: OK/, modern.output);

    // HTTP through the terminator, verified against the test CA.
    const client = Deno.createHttpClient({ caCerts: [pki.caCert] });
    const res = await fetch(`https://localhost:${tls.port}/v1/health`, { client });
    assert.equal(await res.text(), "plain says hi to /v1/health");
    client.close();

    // A WebSocket upgrade and one echoed frame, over TLS 1.3.
    const conn = await Deno.connectTls({
      hostname: "localhost",
      port: tls.port,
      caCerts: [pki.caCert],
    });
    const w = (s: string) => conn.write(new TextEncoder().encode(s));
    await w(
      "GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    const head = new TextDecoder().decode(
      await readUntil(conn, (b) => new TextDecoder().decode(b).includes("\r\n\r\n")),
    );
    assert.match(head, /^HTTP\/1\.1 101/);
    assert.match(head, /s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
    const payload = new TextEncoder().encode("ping");
    const mask = [1, 2, 3, 4];
    await conn.write(
      new Uint8Array([
        0x81,
        0x80 | payload.length,
        ...mask,
        ...payload.map((b, i) => b ^ mask[i % 4]),
      ]),
    );
    const frame = await readUntil(conn, (b) => b.length >= 2 && b.length >= 2 + b[1]);
    assert.equal(frame[0], 0x81);
    assert.equal(new TextDecoder().decode(frame.subarray(2, 2 + frame[1])), "echo:ping");
    // The backend saw loopback; the terminator maps that port back to the real client.
    const port = seenPorts.at(-1)!;
    assert.match(tls.peerOf(port) ?? "", /^127\.0\.0\.1:\d+$/);
    assert.equal(tls.peerAddrOf(port, "127.0.0.1")?.hostname, "127.0.0.1");
    // Only the terminator's own loopback end maps: the same port from another host does not.
    assert.equal(tls.peerAddrOf(port, "127.0.0.9"), undefined);
    conn.close();
    // Each mapping goes with its connection: none is left once every client has gone.
    for (let i = 0; i < 500 && tls.mappedPeers > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(tls.mappedPeers, 0);
    assert.equal(tls.peerOf(port), undefined);
    assert.ok(handshakeErrors.length >= 1, "the TLS 1.2 attempt was reported");
  } finally {
    await tls.close();
    await backend.shutdown();
    await pki.remove();
  }
});
