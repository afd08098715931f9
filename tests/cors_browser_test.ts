/**
 * CORS for the origins `--cors-origin` lists, in a real browser: headless Chromium
 * (Debian `chromium`, driven by `playwright-core`) loads a page served by a `Deno.serve`
 * on another port; the page subscribes with `EventSource`, publishes with `fetch` (JSON,
 * so a preflight), and publishes and receives over a WebSocket. A page from an origin
 * that is not listed gets nothing through and changes nothing. Raw fetch checks the
 * preflight answer itself, and the flag is repeatable.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { parseConfig } from "../runtime/node/mod.ts";
import { withNode } from "./support/node.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];

/** The page: everything it does is reported as one JSON result by `run()`. */
const PAGE = `<!doctype html><html><body><script>
const node = new URL(location.href).searchParams.get("node");
const within = (ms, p, what) => Promise.race([p, new Promise((_, rej) =>
  setTimeout(() => rej(new Error(what + ": timed out")), ms))]);
async function attempt(what, fn) {
  try { return { ok: true, value: await fn() }; } catch (e) { return { ok: false, error: what + ": " + String(e.message ?? e) }; }
}
window.run = async () => {
  const out = {};
  const events = [];
  let es;
  out.sse = await attempt("eventsource", () => within(3000, new Promise((resolve, reject) => {
    es = new EventSource(node + "/v1/realities/web/subscribe?pattern=chat.>");
    es.addEventListener("subscribed", () => resolve("subscribed"));
    es.addEventListener("pulse", (e) => events.push({ id: e.lastEventId, pulse: JSON.parse(e.data) }));
    es.onerror = () => reject(new Error("error event"));
  }), "eventsource"));
  out.publish = await attempt("fetch", async () => {
    const r = await fetch(node + "/v1/realities/web/topics/chat.fetch", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ via: "fetch" }),
    });
    return { status: r.status, body: await r.json(), sequenceHeader: r.headers.get("content-type") };
  });
  out.ws = await attempt("websocket", () => within(3000, new Promise((resolve, reject) => {
    const ws = new WebSocket(node.replace("http", "ws") + "/v1/ws", "arqon.v1.json");
    ws.onerror = () => reject(new Error("error event"));
    ws.onopen = () => ws.send(JSON.stringify({ hello: { clientName: "page", protocolVersion: 1 } }));
    ws.onmessage = (m) => {
      const f = JSON.parse(m.data);
      if (f.welcome) {
        ws.send(JSON.stringify({ publish: { correlationId: "1", ack: "ACK_MODE_RECEIVED",
          pulse: { realityId: "web", topic: "chat.ws", data: { via: "ws" } } } }));
      }
      if (f.ack) { ws.close(); resolve({ sequence: f.ack.sequence }); }
      if (f.error) reject(new Error(f.error.code));
    };
  }), "websocket"));
  if (out.sse.ok) {
    await within(3000, new Promise((r) => { const t = setInterval(() => { if (events.length >= 2) { clearInterval(t); r(); } }, 10); }), "events").catch(() => {});
  }
  es?.close();
  out.events = events;
  return out;
};
</script></body></html>`;

function servePage(): { origin: string; close: () => Promise<void> } {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }),
  );
  return { origin: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

Deno.test("cors: a listed origin's page uses EventSource, fetch JSON and WebSocket; another is refused", async () => {
  const allowed = servePage();
  const foreign = servePage();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    await withNode(async (node) => {
      node.store.createReality("web", { retention: [{ pattern: ">" }] });
      const visit = async (origin: string) => {
        const page = await browser.newPage();
        try {
          await page.goto(`${origin}/?node=${encodeURIComponent(node.url)}`);
          return await page.evaluate("run()") as
            & Record<string, {
              ok: boolean;
              value?: Record<string, unknown>;
              error?: string;
            }>
            & { events: { id: string; pulse: Record<string, unknown> }[] };
        } finally {
          await page.close();
        }
      };

      const good = await visit(allowed.origin);
      assert.ok(good.sse.ok, JSON.stringify(good.sse));
      assert.ok(good.publish.ok, JSON.stringify(good.publish));
      assert.equal(good.publish.value!.status, 200);
      assert.equal((good.publish.value!.body as { sequence: number }).sequence, 1);
      assert.ok(good.ws.ok, JSON.stringify(good.ws));
      assert.equal(good.ws.value!.sequence, "2");
      // The page read both pulses through EventSource, ids = sequences, JSON as JSON.
      assert.deepEqual(good.events.map((e) => e.id), ["1", "2"]);
      assert.deepEqual(good.events.map((e) => e.pulse.data), [{ via: "fetch" }, { via: "ws" }]);

      const bad = await visit(foreign.origin);
      assert.equal(bad.sse.ok, false, "EventSource from an unlisted origin fails");
      assert.equal(bad.publish.ok, false, "fetch POST from an unlisted origin fails");
      assert.equal(bad.ws.ok, false, "WebSocket from an unlisted origin fails");
      assert.deepEqual(bad.events, []);
      // And it changed nothing: the next publish takes sequence 3.
      const next = await fetch(`${node.url}/v1/realities/web/topics/chat.probe`, {
        method: "POST",
        body: "x",
      });
      assert.equal((await next.json()).sequence, 3);
    }, { corsOrigin: allowed.origin });
  } finally {
    await browser.close();
    await allowed.close();
    await foreign.close();
  }
});

Deno.test("cors: preflights and response headers for listed origins only (raw fetch)", async () => {
  const a = "http://app-a.example:8080";
  const b = "https://app-b.example";
  await withNode(async (node) => {
    const topic = `${node.url}/v1/realities/default/topics/t`;
    const preflight = (origin: string) =>
      fetch(topic, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type, last-event-id",
        },
      });
    for (const origin of [a, b]) {
      const res = await preflight(origin);
      await res.body?.cancel();
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("access-control-allow-origin"), origin);
      assert.match(res.headers.get("access-control-allow-methods")!, /POST/);
      assert.match(res.headers.get("access-control-allow-headers")!, /content-type/);
      assert.match(res.headers.get("access-control-allow-headers")!, /last-event-id/);
      assert.equal(res.headers.get("access-control-max-age"), "600");
    }
    const refused = await preflight("https://evil.example");
    await refused.body?.cancel();
    assert.equal(refused.headers.get("access-control-allow-origin"), null);
    // Responses carry the header for listed origins: a publish, an error, an SSE stream.
    const pub = await fetch(topic, { method: "POST", headers: { origin: b }, body: "x" });
    assert.equal(pub.status, 200);
    assert.equal(pub.headers.get("access-control-allow-origin"), b);
    assert.match(pub.headers.get("access-control-expose-headers")!, /x-arqon-sequence/);
    await pub.body?.cancel();
    const sse = await fetch(`${node.url}/v1/realities/default/subscribe?pattern=t`, {
      headers: { origin: a },
    });
    assert.equal(sse.headers.get("access-control-allow-origin"), a);
    await sse.body?.cancel();
    const evilPost = await fetch(topic, {
      method: "POST",
      headers: { origin: "https://evil.example" },
      body: "x",
    });
    assert.equal(evilPost.status, 403);
    assert.equal((await evilPost.json()).error.code, "FORBIDDEN");
    const evilGet = await fetch(`${node.url}/healthz`, {
      headers: { origin: "https://evil.example" },
    });
    assert.equal(evilGet.headers.get("access-control-allow-origin"), null);
    await evilGet.body?.cancel();
  }, { corsOrigin: `${a},${b}` });
});

Deno.test("cors: --cors-origin is repeatable and joins with the comma form", () => {
  const parsed = parseConfig(
    [
      "--memory",
      "--cors-origin",
      "https://a.example",
      "--cors-origin",
      "https://b.example,https://c.example",
    ],
    () => undefined,
  );
  assert.ok(!parsed.help);
  assert.equal(parsed.config.corsOrigin, "https://a.example,https://b.example,https://c.example");
  const one = parseConfig(["--memory", "--cors-origin", "https://a.example"], () => undefined);
  assert.ok(!one.help);
  assert.equal(one.config.corsOrigin, "https://a.example");
});
