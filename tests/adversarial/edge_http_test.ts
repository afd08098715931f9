/**
 * Bodies and slow clients: the realities and policy-binding routes skipped the body limit
 * (150 MB bodies accepted), HTTP had no header, body or idle timeout (slowloris), and
 * request heads over 16 KiB got no 431. Every route now has the body limit (413 JSON), a
 * client that never finishes its head or body gets a 408 and is closed, an idle
 * keep-alive connection is closed, and a long response (SSE) is not idle.
 */
import assert from "node:assert/strict";
import type { ArqonNode } from "../../mod.ts";
import { metric, withNode } from "../support/node.ts";
import {
  connect,
  jsonBody,
  mb,
  metricAt,
  NodeChild,
  readUntilClosed,
  sleep,
  write,
} from "./edge_support.ts";

const SLOW = { httpHeaderTimeoutSeconds: 1, httpBodyTimeoutSeconds: 1, httpIdleTimeoutSeconds: 1 };
const MiB = 1024 * 1024;

async function healthy(node: ArqonNode): Promise<void> {
  const res = await fetch(`${node.url}/healthz`);
  assert.equal(res.status, 200);
  await res.body?.cancel();
}

Deno.test("edge: the body limit holds on every route, with or without Content-Length", async () => {
  await withNode(async (node) => {
    const big = new Uint8Array(2 * MiB);
    const routes: [string, string][] = [
      ["POST", "/v1/realities"],
      ["PUT", "/v1/realities/lab"],
      ["PUT", "/v1/policies/p/binding"],
      ["POST", "/v1/realities/lab/topics/a.b"],
      ["POST", "/v1/nowhere"],
    ];
    for (const [method, path] of routes) {
      const res = await fetch(`${node.url}${path}`, { method, body: big });
      assert.equal(res.status, 413, `${method} ${path}`);
      assert.equal((await res.json()).error.code, "FRAME_TOO_LARGE");
    }
    // Streamed (chunked, no Content-Length): refused once the limit is crossed.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(MiB));
        controller.close();
      },
    });
    const res = await fetch(`${node.url}/v1/realities`, { method: "POST", body: stream });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, "FRAME_TOO_LARGE");
    assert.equal(node.store.listRealities().length, 0, "nothing was stored");
    // Policy uploads keep their own, larger limit (--policy-max-upload-bytes).
    const upload = await fetch(`${node.url}/v1/policies/p`, { method: "PUT", body: big });
    assert.notEqual(upload.status, 413);
    await upload.body?.cancel();
    assert.ok(await metric(node, "arqon_limit_hits_total", 'limit="max_http_body_bytes"') >= 6);
  });
});

Deno.test("edge: request heads over 16 KiB get a 431, also on a kept-alive connection", async () => {
  await withNode(async (node) => {
    const huge = `x-big: ${"a".repeat(17 * 1024)}\r\n`;
    const first = await connect(node.port);
    await write(first, `GET /healthz HTTP/1.1\r\nHost: x\r\n${huge}\r\n`);
    const a = await readUntilClosed(first, 3000);
    first.close();
    assert.match(a.text, /^HTTP\/1\.1 431/);
    assert.equal(jsonBody(a.text).error?.code, "FRAME_TOO_LARGE");

    const second = await connect(node.port);
    await write(second, `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
    await write(second, `GET /healthz HTTP/1.1\r\nHost: x\r\n${huge}\r\n`);
    const b = await readUntilClosed(second, 3000);
    second.close();
    assert.match(b.text, /^HTTP\/1\.1 200/);
    assert.match(b.text, /HTTP\/1\.1 431/);
    assert.equal(await metric(node, "arqon_limit_hits_total", 'limit="http_head_too_large"'), 2);
  });
});

Deno.test("edge: slowloris heads and bodies get a 408 and are closed; others are served", async () => {
  await withNode(async (node) => {
    // A head sent a byte at a time, never finished.
    const head = await connect(node.port);
    const trickle = (async () => {
      try {
        await write(head, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
        for (let i = 0; i < 40; i++) {
          await write(head, "x");
          await sleep(100);
        }
      } catch { /* closed by the node */ }
    })();
    // A second request's head, on a connection whose first request was fine.
    const second = await connect(node.port);
    await write(second, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n");
    // A body announced and never sent in full.
    const body = await connect(node.port);
    await write(body, "POST /v1/realities/lab/topics/a.b HTTP/1.1\r\nHost: x\r\n");
    await write(body, "Content-Length: 100\r\n\r\n0123456789");

    await healthy(node); // Others are served meanwhile.
    const started = Date.now();
    const [h, s, b] = await Promise.all([
      readUntilClosed(head, 5000),
      readUntilClosed(second, 5000),
      readUntilClosed(body, 5000),
    ]);
    const elapsed = Date.now() - started;
    await trickle;
    for (const c of [head, second, body]) c.close();
    assert.ok(h.closed && s.closed && b.closed, "all three were closed");
    assert.ok(elapsed < 4000, `closed after ${elapsed} ms`);
    assert.match(h.text, /^HTTP\/1\.1 408/);
    assert.equal(jsonBody(h.text).error?.code, "TIMEOUT");
    assert.match(s.text, /^HTTP\/1\.1 200[\s\S]*HTTP\/1\.1 408/);
    assert.match(b.text, /^HTTP\/1\.1 408/);
    assert.equal(jsonBody(b.text).error?.code, "TIMEOUT");
    await healthy(node);
    assert.equal(await metric(node, "arqon_limit_hits_total", 'limit="http_header_timeout"'), 2);
    assert.equal(await metric(node, "arqon_limit_hits_total", 'limit="http_body_timeout"'), 1);
  }, SLOW);
});

Deno.test("edge: an idle keep-alive connection is closed; a quiet SSE stream is not", async () => {
  await withNode(async (node) => {
    const idle = await connect(node.port);
    await write(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const sse = await fetch(`${node.url}/v1/realities/default/subscribe?pattern=quiet.>`);
    const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value ?? "", /subscribed/);

    const started = Date.now();
    const r = await readUntilClosed(idle, 5000);
    idle.close();
    assert.ok(r.closed, "the idle connection was closed");
    assert.match(r.text, /^HTTP\/1\.1 200/);
    assert.ok(Date.now() - started < 4000);

    // The SSE stream sat silent past the idle timeout: it is still there.
    await sleep(1500);
    const pub = await fetch(`${node.url}/v1/realities/default/topics/quiet.now`, {
      method: "POST",
      body: "still here",
    });
    await pub.body?.cancel();
    let text = "";
    while (!text.includes("quiet.now")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.match(text, /quiet\.now/);
    await reader.cancel();
    assert.ok(await metric(node, "arqon_limit_hits_total", 'limit="http_idle_timeout"') >= 1);
  }, SLOW);
});

Deno.test("edge: 3 x (200 oversized bodies + 1,000 slowloris heads): RSS bounded, /healthz answers", async () => {
  // Body deadline 5 s: a 2 MiB upload on a loaded machine must meet the size limit (413), not the deadline.
  const node = await NodeChild.start(["--http-header-timeout", "1", "--http-body-timeout", "5"]);
  const big = new Uint8Array(2 * MiB);
  // No pooled connections: a connection the node closed after a 413 is never reused.
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const served = async () => {
    const started = Date.now();
    const res = await fetch(`${node.url}/healthz`, { client });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.ok(Date.now() - started < 5000, `/healthz took ${Date.now() - started} ms`);
  };
  let tooLarge = 0;
  const round = async () => {
    // 1,000 heads never finished, held open while the bodies come.
    const heads = await Promise.all(Array.from({ length: 1000 }, () => connect(node.port)));
    await Promise.all(heads.map((c) => write(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n")));
    // 200 bodies of 2 MiB (over the 1 MiB limit), 20 at a time: each a 413.
    for (let i = 0; i < 200; i += 20) {
      // 0: the node answered 413 and closed before the whole body was sent (a reset).
      const statuses = await Promise.all(Array.from({ length: 20 }, async () => {
        const res = await fetch(`${node.url}/v1/realities/lab/topics/a.b`, {
          method: "POST",
          body: big,
          client,
        }).catch(() => null);
        await res?.body?.cancel();
        return res?.status ?? 0;
      }));
      // 408: on a loaded machine the node may not have read a whole head within the 1 s
      // header deadline of this test; refused unread all the same.
      assert.ok(statuses.every((s) => s === 413 || s === 0 || s === 408), `statuses ${statuses}`);
      tooLarge += statuses.filter((s) => s === 413).length;
    }
    await served(); // Another client is served while the heads hang.
    let peak = node.rss();
    // The header deadline is 1 s; on a machine loaded to 10+ (CI beside the parallel suite)
    // the node's sweep and 1,000 closes can take seconds: the wait is generous, the verdict
    // is on what each connection got, never on how fast.
    const closed = await Promise.all(heads.map((c) => readUntilClosed(c, 20_000)));
    for (const c of heads) c.close();
    const bad = closed.filter((r) => !(r.closed && /^HTTP\/1\.1 408/.test(r.text)));
    assert.equal(
      bad.length,
      0,
      `${bad.length} of 1,000 heads not answered 408 and closed; first: ` +
        JSON.stringify(bad[0]?.text.slice(0, 80)) + ` closed ${bad[0]?.closed}`,
    );
    peak = Math.max(peak, node.rss());
    await served();
    return peak;
  };
  try {
    await served();
    const before = node.rss();
    const first = await round();
    const second = await round();
    const third = await round();
    console.log(
      `RSS before ${mb(before)}, peaks of three rounds ${mb(first)}, ${mb(second)}, ${mb(third)}`,
    );
    // Ceiling: 3 x 200 bodies of 2 MiB are 1.2 GB sent; bodies refused at the limit keep at
    // most 1 MiB each while read, 20 at a time (20 MiB), and 1,000 pending heads a few KB
    // each. Measured: +48 MB after one round, +65-100 MB after three (eight rounds
    // tried: a slow creep of ~4 MB a round after the third, not yet explained); under the
    // parallel suite on a loaded machine V8 collects later still (+105 MB seen). 192 MB over
    // the baseline bounds three rounds, far under what buffering the bodies (400 MB a round)
    // would take.
    const top = Math.max(first, second, third);
    assert.ok(top - before < 192 * MiB, `RSS peaked ${mb(top - before)} above the baseline`);
    assert.ok(
      tooLarge > 0 &&
        await metricAt(node.url, "arqon_limit_hits_total", 'limit="max_http_body_bytes"') >=
          tooLarge,
    );
    assert.ok(
      await metricAt(node.url, "arqon_limit_hits_total", 'limit="http_header_timeout"') >= 3000,
    );
  } finally {
    client.close();
    await node.stop();
  }
});
