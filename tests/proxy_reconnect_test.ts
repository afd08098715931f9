/**
 * The proxy outlives its neighbours: it waits for a node that is not up yet, reconnects
 * and resubscribes when the node restarts (answering HTTP clients 503 meanwhile), and
 * reaches an upstream again once it is back.
 */
import assert from "node:assert/strict";
import { type ArqonNode, startNode } from "../mod.ts";
import { spawnNode } from "./store_node_process.ts";
import { ProxyChild, RawBus, Upstream } from "./proxy_support.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const nodeOn = (port: number) =>
  startNode({ port, memory: true, log: "quiet", shutdownGraceMs: 200 });

async function eventually(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A raw request that succeeds once the proxy serves again (NO_RESPONDERS meanwhile). */
async function served(wsUrl: string, topic: string): Promise<boolean> {
  const bus = await RawBus.connect(wsUrl);
  try {
    return (await bus.request(topic, { timeoutMs: 2000 })).headers["http-status"] === "200";
  } finally {
    await bus.close();
  }
}

Deno.test("proxy reconnects: node not up at start, node killed and restarted, upstream restarted", async () => {
  const port = freePort();
  const upstream = new Upstream();
  const wsUrl = `ws://127.0.0.1:${port}/v1/ws`;
  // The proxy starts first and waits for the node.
  const starting = ProxyChild.start([
    "--bus",
    wsUrl,
    "--upstream",
    upstream.url,
    "--serve",
    "svc.billing.>",
    "--listen",
    "127.0.0.1:0",
  ]);
  await new Promise((r) => setTimeout(r, 700));
  // The first node is a child process, so that it can die abruptly (SIGKILL).
  const first = await spawnNode(["--memory", "--port", String(port)]);
  let node: ArqonNode | undefined;
  const proxy = await starting;
  try {
    assert.ok(await served(wsUrl, "svc.billing.first"));
    const viaHttp = await fetch(`${proxy.listenUrl}/svc/billing/echo`, {
      method: "POST",
      body: "1",
    });
    assert.equal((await viaHttp.json()).body, "1");

    // The node dies: HTTP clients get a typed 503 while the proxy reconnects.
    first.child.kill("SIGKILL");
    await first.child.status;
    await first.rest;
    await eventually(
      "bus_connected 0",
      async () => (await proxy.metric("arqon_proxy_bus_connected")) === 0,
    );
    const down = await fetch(`${proxy.listenUrl}/svc/billing/echo`, { method: "POST", body: "2" });
    assert.equal(down.status, 503);
    const body = await down.json();
    assert.equal(body.error.code, "NO_RESPONDERS");
    assert.match(body.error.message, /reconnecting/);

    // Back on the same port: the proxy reconnects and resubscribes on its own.
    node = await nodeOn(port);
    await eventually("served after the restart", () => served(wsUrl, "svc.billing.second"));
    const after = await fetch(`${proxy.listenUrl}/svc/billing/echo`, { method: "POST", body: "3" });
    assert.equal((await after.json()).body, "3");
    assert.ok(await proxy.metric("arqon_proxy_bus_reconnects") >= 1);
    assert.equal(await proxy.metric("arqon_proxy_bus_connected"), 1);

    // The upstream goes away, then comes back on the same port.
    const bus = await RawBus.connect(wsUrl);
    try {
      await upstream.stop();
      const gone = await bus.request("svc.billing.gone");
      assert.equal(gone.headers["arqon-error-kind"], "upstream_unreachable", gone.text);
      upstream.restart();
      const back = await bus.request("svc.billing.back");
      assert.equal(back.headers["http-status"], "200");
      assert.equal(JSON.parse(back.text).path, "/back");
    } finally {
      await bus.close();
    }
  } finally {
    await proxy.stop();
    try {
      first.child.kill("SIGKILL");
    } catch { /* already gone */ }
    await first.child.status;
    await node?.shutdown();
    await upstream.stop();
  }
});
