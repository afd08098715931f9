/**
 * Requests could get around the subscription limit: each pending request held an inbox
 * subscription for up to 300 s, outliving its connection (100,000 requests: +490 MB).
 * Pending requests are now limited per connection (`--max-pending-requests`) and end
 * with their connection, over WebSocket and over HTTP.
 */
import assert from "node:assert/strict";
import { F } from "../support/pb.ts";
import { metric, sleep as nap, withNode } from "../support/node.ts";
import { RawSocket } from "../support/raw_ws.ts";
import {
  DiscardingSocket,
  hello,
  mb,
  metricAt,
  NodeChild,
  publish,
  requestBatch,
  subscribe,
} from "./edge_support.ts";

const REQUESTS = 100_000;
const MAX_PENDING = 1024;

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await nap(50);
  }
}

Deno.test("edge: 100,000 requests from one connection are bounded and die with it (RSS)", async () => {
  const node = await NodeChild.start(["--max-pending-requests", String(MAX_PENDING)]);
  const sockets: RawSocket[] = [];
  try {
    // A responder that takes every request and never answers.
    const responder = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    sockets.push(responder);
    responder.send(hello("responder"));
    responder.send(subscribe(1, "svc.slow"));
    await responder.wait(F.subscribed);
    const before = node.rss();

    // A requester sends its requests in batches, never reads what comes back, and leaves.
    let refused = 0;
    const flood = async (round: number, requests: number) => {
      const requester = await DiscardingSocket.open(node.port, `requester-${round}`);
      for (let first = 1; first <= requests; first += 1000) {
        await requester.send(requestBatch(first, 1000, "svc.slow"));
      }
      await until(
        "the refusals",
        async () =>
          await metricAt(node.url, "arqon_limit_hits_total", 'limit="max_pending_requests"') >=
            refused + requests - MAX_PENDING,
      );
      refused += requests - MAX_PENDING;
      // At most MAX_PENDING of them wait, each with its inbox.
      assert.equal(await metricAt(node.url, "arqon_subscriptions"), 1 + MAX_PENDING);
      await requester.close();
      await until(
        "the inboxes to be released",
        async () => await metricAt(node.url, "arqon_subscriptions") === 1,
      );
      return node.rss();
    };
    const first = await flood(1, REQUESTS);

    // Meanwhile another client is served.
    const other = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    sockets.push(other);
    other.send(hello("other"));
    other.send(publish(7, "other.topic"));
    await other.wait(F.ack);

    // A second flood finds the heap grown by the first: nothing of it was kept.
    const second = await flood(2, REQUESTS / 2);
    console.log(
      `RSS before ${mb(before)}, after 100,000 requests and a disconnect ${mb(first)}, ` +
        `after 50,000 more ${mb(second)}`,
    );
    assert(first - before < 256 * 1024 * 1024, `RSS grew by ${mb(first - before)}`);
    assert(second - first < 64 * 1024 * 1024, `RSS grew again by ${mb(second - first)}`);
  } finally {
    for (const s of sockets) await s.close().catch(() => {});
    await node.stop();
  }
});

Deno.test("edge: an HTTP request ends with its connection and frees its inbox", async () => {
  await withNode(async (node) => {
    const responder = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    try {
      responder.send(hello("responder"));
      responder.send(subscribe(1, "svc.slow"));
      await responder.wait(F.subscribed);
      const gone = new AbortController();
      const pending = fetch(`${node.url}/v1/realities/default/request/svc.slow?timeout_ms=60000`, {
        method: "POST",
        body: "ping",
        signal: gone.signal,
      }).catch(() => null);
      await until(
        "the request to wait",
        async () => await metric(node, "arqon_subscriptions") === 2,
      );
      gone.abort();
      await pending;
      // Released at once, not after the 60 s timeout.
      await until(
        "the inbox to be released",
        async () => await metric(node, "arqon_subscriptions") === 1,
        5000,
      );
    } finally {
      await responder.close();
    }
  });
});
