/**
 * The proxy end to end, both ways: a real node, a real HTTP upstream (`Deno.serve`), the
 * proxy as a child process started like users start it, and clients that are not our
 * SDK (raw protobuf frames; fetch).
 */
import assert from "node:assert/strict";
import { ArqonClient } from "../runtime/client/mod.ts";
import { withNode } from "./support/node.ts";
import { ProxyChild, RawBus, Upstream } from "./proxy_support.ts";

const NODE = { memory: true } as const;

Deno.test("proxy bus -> HTTP: path, method, query, headers and body go up; status, headers and body come back", async () => {
  await withNode(async (node) => {
    const upstream = new Upstream();
    const proxy = await ProxyChild.start([
      "--bus",
      node.wsUrl,
      "--upstream",
      upstream.url,
      "--serve",
      "svc.billing.>",
      "--listen",
      "127.0.0.1:0",
    ]);
    const bus = await RawBus.connect(node.wsUrl);
    try {
      const put = await bus.request("svc.billing.invoices.list", {
        headers: { "http-method": "PUT", "http-query": "page=2&created", "x-tenant": "t1" },
        contentType: "application/json",
        payload: '{"amount":5}',
      });
      assert.equal(put.headers["http-status"], "201");
      assert.equal(put.headers["x-upstream"], "up");
      assert.equal(put.headers["arqon-proxy-error"], undefined);
      assert.equal(put.contentType, "application/json");
      const seen = JSON.parse(put.text);
      assert.equal(seen.method, "PUT");
      assert.equal(seen.path, "/invoices/list");
      assert.equal(seen.query, "page=2&created");
      assert.equal(seen.headers["x-tenant"], "t1");
      assert.equal(seen.headers["content-type"], "application/json");
      assert.equal(seen.body, '{"amount":5}');

      // POST by default; binary bodies arrive byte for byte.
      const bytes = new Uint8Array(256).map((_, i) => i);
      await bus.request("svc.billing.raw", { payload: bytes });
      const raw = upstream.seen.at(-1)!;
      assert.equal(raw.method, "POST");
      assert.equal(raw.path, "/raw");
      assert.equal(raw.body.length > 0, true);

      const get = await bus.request("svc.billing.status", { headers: { "http-method": "GET" } });
      assert.equal(JSON.parse(get.text).method, "GET");

      // A 5xx is the service's answer: a reply with its status, not an error.
      const fail = await bus.request("svc.billing.fail");
      assert.equal(fail.headers["http-status"], "500");
      assert.equal(fail.text, "boom");
      assert.equal(fail.headers["arqon-proxy-error"], undefined);

      const empty = await bus.request("svc.billing.empty");
      assert.equal(empty.headers["http-status"], "204");
      assert.equal(empty.payload.length, 0);

      assert.equal(upstream.seen.length, 5);
      assert.equal(await proxy.metric("arqon_proxy_requests_total", 'outcome="ok"'), 5);
    } finally {
      await bus.close();
      await proxy.stop();
      await upstream.stop();
    }
  }, NODE);
});

Deno.test("proxy HTTP -> bus: requests reach bus agents; replies map back; no responder 503, timeout 504", async () => {
  await withNode(async (node) => {
    const upstream = new Upstream();
    const proxy = await ProxyChild.start([
      "--bus",
      node.wsUrl,
      "--upstream",
      upstream.url,
      "--serve",
      "svc.billing.>",
      "--listen",
      "127.0.0.1:0",
      "--request-timeout-ms",
      "400",
    ]);
    const agent = await ArqonClient.connect(node.wsUrl, { name: "agent" });
    const sub = agent.subscribe("agents.echo.>", {
      onPulse: (p) => {
        const h = p.headers ?? {};
        if (p.topic === "agents.echo.silent") return; // never answers
        agent.reply(
          p,
          JSON.stringify({
            topic: p.topic,
            method: h["http-method"],
            query: h["http-query"],
            tenant: h["x-tenant"],
            body: new TextDecoder().decode(p.payload!),
          }),
          {
            headers: { "http-status": "202", "x-agent": "echo" },
            contentType: "application/json",
          },
        );
      },
    });
    await sub.ready;
    try {
      const res = await fetch(`${proxy.listenUrl}/agents/echo/hello?x=1`, {
        method: "POST",
        headers: { "x-tenant": "t2", "content-type": "text/plain" },
        body: "hi agent",
      });
      assert.equal(res.status, 202);
      assert.equal(res.headers.get("x-agent"), "echo");
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.deepEqual(await res.json(), {
        topic: "agents.echo.hello",
        method: "POST",
        query: "x=1",
        tenant: "t2",
        body: "hi agent",
      });

      // Through the bus and back out to the upstream: the upstream's status survives both hops.
      const loop = await fetch(`${proxy.listenUrl}/svc/billing/fail`, { method: "POST" });
      assert.equal(loop.status, 500);
      assert.equal(await loop.text(), "boom");
      const ok = await fetch(`${proxy.listenUrl}/svc/billing/orders?created`, { method: "DELETE" });
      assert.equal(ok.status, 201);
      assert.equal((await ok.json()).method, "DELETE");

      const none = await fetch(`${proxy.listenUrl}/nobody/home`, { method: "POST", body: "x" });
      assert.equal(none.status, 503);
      assert.equal((await none.json()).error.code, "NO_RESPONDERS");

      const silent = await fetch(`${proxy.listenUrl}/agents/echo/silent`, { method: "POST" });
      assert.equal(silent.status, 504);
      assert.equal((await silent.json()).error.code, "TIMEOUT");

      const badPath = await fetch(`${proxy.listenUrl}/Agents/e%20cho`, { method: "POST" });
      assert.equal(badPath.status, 400);
      assert.equal((await badPath.json()).error.code, "INVALID_TOPIC");
      const dotted = await fetch(`${proxy.listenUrl}/agents/echo.x`, { method: "POST" });
      assert.equal(dotted.status, 400);
      await dotted.body?.cancel();

      assert.equal(
        await proxy.metric("arqon_proxy_requests_total", 'direction="http_to_bus",outcome="ok"'),
        3,
      );
      assert.equal(await proxy.metric("arqon_proxy_errors_total", 'kind="no_responders"'), 1);
      assert.equal(await proxy.metric("arqon_proxy_errors_total", 'kind="timeout"'), 1);
      assert.equal(await proxy.metric("arqon_proxy_errors_total", 'kind="invalid_topic"'), 2);
      assert.equal(await proxy.metric("arqon_proxy_bus_connected"), 1);
      assert.ok(
        await proxy.metric(
          "arqon_proxy_request_duration_seconds_count",
          'direction="bus_to_http"',
        ) >= 2,
      );
    } finally {
      sub.close();
      await agent.close();
      await proxy.stop();
      await upstream.stop();
    }
  }, NODE);
});

Deno.test("proxy: two proxies in the served queue group share the requests, each answered once", async () => {
  await withNode(async (node) => {
    const [a, b] = [new Upstream("a"), new Upstream("b")];
    const common = ["--bus", node.wsUrl, "--serve", "svc.billing.>"];
    const pa = await ProxyChild.start([...common, "--upstream", a.url]);
    const pb = await ProxyChild.start([...common, "--upstream", b.url]);
    const bus = await RawBus.connect(node.wsUrl);
    try {
      const replies = await Promise.all(
        Array.from(
          { length: 40 },
          (_, i) => bus.request(`svc.billing.n${i % 4}`, { payload: `n${i}` }),
        ),
      );
      const by = { a: 0, b: 0 } as Record<string, number>;
      for (const r of replies) by[r.headers["x-upstream"]]++;
      assert.equal(by.a + by.b, 40);
      assert.ok(by.a > 0 && by.b > 0, `both proxies served: ${JSON.stringify(by)}`);
      assert.equal(a.seen.length + b.seen.length, 40, "each request reached one upstream once");
      const bodies = new Set([...a.seen, ...b.seen].map((s) => s.body));
      assert.equal(bodies.size, 40);
    } finally {
      await bus.close();
      await pa.stop();
      await pb.stop();
      await a.stop();
      await b.stop();
    }
  }, NODE);
});

Deno.test("proxy command: --help, and bad flags exit 2 naming the flag", async () => {
  const help = await ProxyChild.run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--serve/);
  assert.match(help.stdout, /--upstream-timeout-ms/);
  const bad = await ProxyChild.run(["--bus", "ws://127.0.0.1:1/v1/ws", "--serve", "svc.billing"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--serve/);
  const unknown = await ProxyChild.run(["--bus", "ws://127.0.0.1:1/v1/ws", "--nope"]);
  assert.equal(unknown.code, 2);
});
