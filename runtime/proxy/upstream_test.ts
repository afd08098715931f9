import assert from "node:assert/strict";
import { ProxyError } from "./errors.ts";
import { gzipSync } from "node:zlib";
import { callUpstream } from "./upstream.ts";
import { type UpstreamCall, upstreamCallOf } from "./mapping.ts";

const post = (url: string): UpstreamCall => ({
  method: "POST",
  url,
  headers: new Headers(),
  body: new TextEncoder().encode("hi"),
});

/** A raw TCP server answering each connection with `answer` (bytes, or nothing: hang). */
function rawServer(answer: string | null) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      await conn.read(new Uint8Array(4096)).catch(() => null);
      if (answer !== null) await conn.write(new TextEncoder().encode(answer)).catch(() => {});
      if (answer !== null) conn.close();
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/x`,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (err) {
    assert.ok(err instanceof ProxyError, String(err));
    return err.kind;
  }
}

Deno.test("upstream: an answer (5xx included) with its whole body; failures typed by kind", async () => {
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/fail") return new Response("boom", { status: 500 });
    if (path === "/hang") {
      await held;
      return new Response("late");
    }
    if (path === "/declared") return new Response(new Uint8Array(2000));
    if (path === "/stream") {
      // No content-length: the cap must stop an endless body as it streams.
      let n = 0;
      return new Response(
        new ReadableStream({
          pull(c) {
            if (n++ < 1000) c.enqueue(new Uint8Array(512));
            else c.close();
          },
        }),
      );
    }
    if (path === "/stall") {
      return new Response(
        new ReadableStream({
          async start(c) {
            c.enqueue(new Uint8Array(10));
            await held;
            c.close();
          },
        }),
      );
    }
    if (path === "/gzip") {
      // Compressed whatever was asked: 100 KB of zeros in ~100 bytes (a small "bomb").
      return new Response(new Uint8Array(gzipSync(new Uint8Array(100_000))), {
        headers: {
          "content-encoding": "gzip",
          "x-asked": req.headers.get("accept-encoding") ?? "",
        },
      });
    }
    return new Response(await req.text() + path);
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const garbage = rawServer("\x00\x01 not http at all\r\n\r\n");
  const closing = rawServer("");
  const hanging = rawServer(null);
  const gone = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const refusedUrl = `http://127.0.0.1:${(gone.addr as Deno.NetAddr).port}/x`;
  gone.close();
  try {
    const ok = await callUpstream(post(`${base}/echo`), 2000, 1024);
    assert.equal(ok.response.status, 200);
    assert.equal(new TextDecoder().decode(ok.body), "hi/echo");
    const fail = await callUpstream(post(`${base}/fail`), 2000, 1024);
    assert.equal(fail.response.status, 500, "a 5xx is an answer");
    assert.equal(new TextDecoder().decode(fail.body), "boom");

    assert.equal(await kindOf(callUpstream(post(`${base}/hang`), 200, 1024)), "upstream_timeout");
    assert.equal(await kindOf(callUpstream(post(`${base}/stall`), 200, 1024)), "upstream_timeout");
    assert.equal(await kindOf(callUpstream(post(hanging.url), 200, 1024)), "upstream_timeout");
    assert.equal(await kindOf(callUpstream(post(refusedUrl), 2000, 1024)), "upstream_unreachable");
    assert.equal(await kindOf(callUpstream(post(garbage.url), 2000, 1024)), "upstream_invalid");
    assert.equal(await kindOf(callUpstream(post(closing.url), 2000, 1024)), "upstream_invalid");
    assert.equal(
      await kindOf(callUpstream(post(`${base}/declared`), 2000, 1999)),
      "upstream_too_large",
    );
    assert.equal(
      await kindOf(callUpstream(post(`${base}/declared`), 2000, 2000)),
      "ok",
      "at the cap is fine",
    );
    assert.equal(
      await kindOf(callUpstream(post(`${base}/stream`), 5000, 4096)),
      "upstream_too_large",
    );
    // A compressed body stays compressed: the cap counts what crossed the wire, and the
    // content-encoding header still describes the body.
    const gz = await callUpstream(
      upstreamCallOf(base, "/gzip", {}, "", new Uint8Array(0)),
      2000,
      1024,
    );
    assert.equal(gz.response.headers.get("x-asked"), "identity");
    assert.equal(gz.response.headers.get("content-encoding"), "gzip");
    assert.ok(gz.body.length < 1024, `${gz.body.length} compressed bytes`);
    assert.equal(gz.body[0], 0x1f, "gzip magic");
    // The server still answers after all of that.
    assert.equal((await callUpstream(post(`${base}/again`), 2000, 1024)).response.status, 200);
  } finally {
    release();
    garbage.close();
    closing.close();
    hanging.close();
    await server.shutdown();
  }
});
