/**
 * The proxy against a node that requires tokens: a refused token stops it with a clear
 * message; with a token granting its pattern in a reality it serves requesters of that
 * reality, and what its token does not grant is a typed 403 to HTTP clients.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { ProxyChild, RawBus, Upstream } from "./proxy_support.ts";

Deno.test("proxy with --token and --reality: served within its grants, 403 past them, refused token exits 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-proxy-auth-" });
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  const node = await startNode({ port: 0, log: "quiet", memory: true, authKey: `${dir}/node.key` });
  const upstream = new Upstream();
  let proxy: ProxyChild | undefined;
  try {
    const wrong = await ProxyChild.run([
      "--bus",
      node.wsUrl,
      "--upstream",
      upstream.url,
      "--serve",
      "svc.billing.>",
      "--token",
      "not-a-jwt",
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /UNAUTHORIZED/);

    const proxyToken = await issueToken(key, {
      subject: "billing-proxy",
      realities: ["lab"],
      publish: { allow: ["svc.billing.>"] },
      subscribe: { allow: ["svc.billing.>"] },
    });
    proxy = await ProxyChild.start([
      "--bus",
      node.wsUrl,
      "--upstream",
      upstream.url,
      "--serve",
      "svc.billing.>",
      "--listen",
      "127.0.0.1:0",
      "--reality",
      "lab",
      "--token",
      proxyToken,
    ]);
    const caller = await issueToken(key, {
      subject: "caller",
      realities: ["lab"],
      publish: { allow: ["svc.>"] },
      subscribe: { allow: ["svc.>"] },
    });
    const bus = await RawBus.connect(node.wsUrl, caller);
    try {
      const reply = await bus.request("svc.billing.charge", { reality: "lab", payload: "1" });
      assert.equal(reply.headers["http-status"], "200");
      assert.equal(JSON.parse(reply.text).path, "/charge");
    } finally {
      await bus.close();
    }
    const viaHttp = await fetch(`${proxy.listenUrl}/svc/billing/charge`, {
      method: "POST",
      body: "2",
    });
    assert.equal(viaHttp.status, 200);
    assert.equal((await viaHttp.json()).body, "2");
    // The proxy's token does not grant publishing here: the node refuses, typed.
    const denied = await fetch(`${proxy.listenUrl}/svc/other/x`, { method: "POST" });
    assert.equal(denied.status, 403);
    assert.equal((await denied.json()).error.code, "FORBIDDEN");
  } finally {
    await proxy?.stop();
    await upstream.stop();
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
