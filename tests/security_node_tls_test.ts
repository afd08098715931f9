/**
 * The node's own listeners: with --tls-cert/--tls-key it speaks TLS 1.3 only (TLS 1.2
 * refused), and it refuses a non-loopback address without TLS and auth unless --insecure.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { createTestPki, sClient } from "./security_tls_fixture.ts";

Deno.test("node with --tls-cert/--tls-key: https and TLS 1.3 only, tokens over TLS", async () => {
  const pki = await createTestPki();
  const key = await writeNodeKeyFile(`${pki.dir}/node.key`);
  const node = await startNode({
    port: 0,
    log: "quiet",
    memory: true,
    tlsCert: `${pki.dir}/leaf.pem`,
    tlsKey: `${pki.dir}/leaf.key`,
    authKey: `${pki.dir}/node.key`,
  });
  const client = Deno.createHttpClient({ caCerts: [pki.caCert] });
  try {
    assert.match(node.url, /^https:\/\//);
    assert.match(node.wsUrl, /^wss:\/\//);
    const old = await sClient(node.port, "-tls1_2", `${pki.dir}/ca.pem`);
    assert.notEqual(old.code, 0);
    assert.match(old.output, /alert protocol version/, old.output);
    const modern = await sClient(node.port, "-tls1_3", `${pki.dir}/ca.pem`);
    assert.match(modern.output, /Protocol version: TLSv1\.3/, modern.output);

    const base = `https://localhost:${node.port}`;
    const health = await fetch(`${base}/healthz`, { client });
    assert.equal(health.status, 200);
    await health.body?.cancel();
    const token = await issueToken(key, { subject: "svc", realities: ["lab"] });
    const res = await fetch(`${base}/v1/realities/lab/topics/t.x`, {
      method: "POST",
      body: "over tls",
      headers: { authorization: `Bearer ${token}` },
      client,
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).sequence, 1);
    const operator = await issueToken(key, { subject: "prometheus", roles: ["operator"] });
    const metrics = await (await fetch(`${base}/metrics`, {
      headers: { authorization: `Bearer ${operator}` },
      client,
    })).text();
    assert.match(metrics, /arqon_tls_handshake_failures_total 1\b/);
    const anonymous = await fetch(`${base}/v1/realities/lab/topics/t.x`, {
      method: "POST",
      body: "x",
      client,
    });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
  } finally {
    client.close();
    await node.shutdown();
    await pki.remove();
  }
});

Deno.test("non-loopback without TLS and auth is refused; --insecure starts it", async () => {
  await assert.rejects(
    startNode({ host: "0.0.0.0", port: 0, log: "quiet", memory: true }),
    /refusing to listen on non-loopback 0\.0\.0\.0 without TLS .* and authentication/,
  );
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    const node = await startNode({
      host: "0.0.0.0",
      port: 0,
      log: "quiet",
      memory: true,
      insecure: true,
    });
    await node.shutdown();
  } finally {
    console.warn = warn;
  }
  assert.ok(warnings.some((w) => /INSECURE/.test(w)), warnings.join("\n"));
});
