/**
 * The proxy's bounds and hostile input, end to end: every failure of the upstream (hang,
 * refused, not HTTP, too large), every request HTTP cannot carry, and every bound driven
 * past (body caps both ways, concurrency and queue) gets a typed answer, and the proxy
 * keeps serving the next request.
 */
import assert from "node:assert/strict";
import { withNode } from "./support/node.ts";
import { ProxyChild, RawBus, type RawReply, Upstream } from "./proxy_support.ts";

const NODE = { memory: true } as const;

function assertError(reply: RawReply, kind: string, code: string, status: string): void {
  assert.equal(reply.headers["arqon-error-kind"], kind, reply.text);
  assert.equal(reply.headers["arqon-proxy-error"], code);
  assert.equal(reply.headers["http-status"], status);
  assert.equal(reply.contentType, "application/json");
  const body = JSON.parse(reply.text);
  assert.equal(body.error.code, code);
  assert.equal(body.error.kind, kind);
  assert.ok(body.error.message.length > 0);
}

/** A raw TCP "upstream" that answers every request with bytes that are not HTTP. */
function garbageServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        await conn.read(new Uint8Array(65536)).catch(() => null);
        await conn.write(new TextEncoder().encode("\x00\x01SSH-2.0 hello\r\n\r\n")).catch(() => {});
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close: () => listener.close(),
  };
}

Deno.test("proxy bad input: upstream hang, refusal, non-HTTP answer and oversize body are typed error replies", async () => {
  await withNode(async (node) => {
    const upstream = new Upstream();
    const garbage = garbageServer();
    const gone = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const refusedUrl = `http://127.0.0.1:${(gone.addr as Deno.NetAddr).port}`;
    gone.close();
    const common = [
      "--bus",
      node.wsUrl,
      "--upstream-timeout-ms",
      "300",
      "--max-body-bytes",
      "1024",
    ];
    const main = await ProxyChild.start([
      ...common,
      "--upstream",
      upstream.url,
      "--serve",
      "svc.billing.>",
      "--listen",
      "127.0.0.1:0",
    ]);
    const refused = await ProxyChild.start([
      ...common,
      "--upstream",
      refusedUrl,
      "--serve",
      "svc.refused.>",
    ]);
    const invalid = await ProxyChild.start([
      ...common,
      "--upstream",
      garbage.url,
      "--serve",
      "svc.garbage.>",
    ]);
    const bus = await RawBus.connect(node.wsUrl);
    try {
      assertError(await bus.request("svc.billing.hang"), "upstream_timeout", "TIMEOUT", "504");
      // A requester that gives up first: its reply comes too late, the node refuses it, the
      // proxy counts it and goes on.
      await assert.rejects(bus.request("svc.billing.hang", { timeoutMs: 50 }), /code 10/);
      const deadline = Date.now() + 5000;
      while (await main.metric("arqon_proxy_bus_errors_total", 'code="FORBIDDEN"') < 1) {
        assert.ok(Date.now() < deadline, "the late reply is counted");
        await new Promise((r) => setTimeout(r, 50));
      }
      assertError(
        await bus.request("svc.refused.x"),
        "upstream_unreachable",
        "NO_RESPONDERS",
        "502",
      );
      assertError(await bus.request("svc.garbage.x"), "upstream_invalid", "INTERNAL", "502");

      // The response cap, at and past it.
      const at = await bus.request("svc.billing.big", { headers: { "http-query": "n=1024" } });
      assert.equal(at.headers["http-status"], "200");
      assert.equal(at.payload.length, 1024);
      const past = await bus.request("svc.billing.big", { headers: { "http-query": "n=1025" } });
      assertError(past, "upstream_too_large", "FRAME_TOO_LARGE", "502");

      // Requests HTTP cannot carry: refused before the upstream sees them.
      const before = upstream.seen.length;
      assertError(
        await bus.request("svc.billing.x", { headers: { "http-method": "BREW" } }),
        "bad_request",
        "INVALID_ARGUMENT",
        "400",
      );
      assertError(
        await bus.request("svc.billing.x", { headers: { "http-method": "GET" }, payload: "body" }),
        "bad_request",
        "INVALID_ARGUMENT",
        "400",
      );
      assertError(
        await bus.request("svc.billing.x", { headers: { "x-bad": "a\r\nInjected: 1" } }),
        "bad_request",
        "INVALID_ARGUMENT",
        "400",
      );
      assertError(
        await bus.request("svc.billing.x", { headers: { "bad name": "v" } }),
        "bad_request",
        "INVALID_ARGUMENT",
        "400",
      );
      assert.equal(upstream.seen.length, before, "nothing reached the upstream");

      // A plain publish on the served pattern has no one to answer: left alone, counted.
      const pub = await fetch(`${node.url}/v1/realities/default/topics/svc.billing.fire`, {
        method: "POST",
        body: "x",
      });
      assert.equal(pub.status, 200);
      await pub.body?.cancel();

      // Still serving, each proxy.
      const ok = await bus.request("svc.billing.after");
      assert.equal(ok.headers["http-status"], "200");
      assert.equal(JSON.parse(ok.text).path, "/after");
      assertError(
        await bus.request("svc.refused.again"),
        "upstream_unreachable",
        "NO_RESPONDERS",
        "502",
      );

      for (
        const [kind, n] of [["upstream_timeout", 2], ["upstream_too_large", 1], [
          "bad_request",
          4,
        ]] as const
      ) {
        assert.equal(await main.metric("arqon_proxy_errors_total", `kind="${kind}"`), n, kind);
      }
      assert.equal(await main.metric("arqon_proxy_requests_total", 'outcome="not_a_request"'), 1);
    } finally {
      await bus.close();
      await Promise.all([main.stop(), refused.stop(), invalid.stop()]);
      garbage.close();
      await upstream.stop();
    }
  }, NODE);
});

Deno.test("proxy bounds: concurrency and queue driven past answer 'busy'; HTTP bodies past the cap 413, past the deadline 408", async () => {
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
      "500",
      "--concurrency",
      "2",
      "--max-queue",
      "3",
      "--max-body-bytes",
      "1000",
    ]);
    const bus = await RawBus.connect(node.wsUrl);
    try {
      // 2 run (held by the upstream), 3 wait, the other 5 are refused at once.
      const pending = Array.from({ length: 10 }, () => bus.request("svc.billing.held"));
      const deadline = Date.now() + 10_000;
      while (await proxy.metric("arqon_proxy_errors_total", 'kind="busy"') < 5) {
        assert.ok(Date.now() < deadline, "5 busy replies");
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(await proxy.metric("arqon_proxy_upstream_in_flight"), 2);
      assert.equal(await proxy.metric("arqon_proxy_upstream_queued"), 3);
      upstream.releaseHeld();
      const replies = await Promise.all(pending);
      const busy = replies.filter((r) => r.headers["arqon-error-kind"] === "busy");
      const served = replies.filter((r) => r.text === "held");
      assert.equal(served.length, 5);
      assert.equal(busy.length, 5);
      for (const r of busy) assertError(r, "busy", "QUOTA_EXCEEDED", "503");
      assert.equal(upstream.seen.filter((s) => s.path === "/held").length, 5);
      // Slots free again afterwards.
      assert.equal((await bus.request("svc.billing.slow")).text, "slow");
      assert.equal(await proxy.metric("arqon_proxy_upstream_in_flight"), 0);

      // HTTP -> bus: the request body cap, declared and streamed (chunked, no length).
      const atCap = await fetch(`${proxy.listenUrl}/svc/billing/len`, {
        method: "POST",
        body: "x".repeat(1000),
      });
      assert.equal(atCap.status, 200);
      assert.equal(await atCap.text(), "1000");
      const declared = await fetch(`${proxy.listenUrl}/svc/billing/len`, {
        method: "POST",
        body: "x".repeat(1001),
      });
      assert.equal(declared.status, 413);
      assert.equal((await declared.json()).error.code, "FRAME_TOO_LARGE");
      const chunks = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(100));
          c.close();
        },
      });
      const streamed = await fetch(`${proxy.listenUrl}/svc/billing/len`, {
        method: "POST",
        body: chunks,
      });
      assert.equal(streamed.status, 413);
      assert.equal((await streamed.json()).error.code, "FRAME_TOO_LARGE");
      // An upstream answer past the cap, seen from HTTP: the gateway's 502 with its JSON.
      const big = await fetch(`${proxy.listenUrl}/svc/billing/big?n=5000`, { method: "POST" });
      assert.equal(big.status, 502);
      assert.equal((await big.json()).error.kind, "upstream_too_large");
      assert.equal(await proxy.metric("arqon_proxy_errors_total", 'kind="body_too_large"'), 2);
      // A body that trickles: cut at the request deadline with a 408, the connection freed.
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: Number(new URL(proxy.listenUrl).port),
      });
      const head =
        "POST /svc/billing/len HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789";
      await conn.write(new TextEncoder().encode(head));
      const answer = new Uint8Array(4096);
      const n = await conn.read(answer);
      const text = new TextDecoder().decode(answer.subarray(0, n ?? 0));
      assert.match(text, /^HTTP\/1.1 408/);
      assert.match(text, /"code":"TIMEOUT"/);
      conn.close();
      assert.equal(await proxy.metric("arqon_proxy_errors_total", 'kind="body_timeout"'), 1);
      // And it still serves.
      const ok = await fetch(`${proxy.listenUrl}/svc/billing/echo`, {
        method: "POST",
        body: "fine",
      });
      assert.equal((await ok.json()).body, "fine");
    } finally {
      await bus.close();
      await proxy.stop();
      await upstream.stop();
    }
  }, NODE);
});
