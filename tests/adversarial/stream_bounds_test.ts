/**
 * The streamed-request byte bound driven past in a node child process (issue 13): a
 * responder answers 40 open streams with 32 replies of 64 KiB each (80 MiB in all) against a
 * `--stream-max-bytes` of 1 MiB. Each stream must end with QUOTA_EXCEEDED after at most its
 * bound, the node's RSS must stay bounded, and another client keeps being served.
 * @module
 */
import assert from "node:assert/strict";
import { F, msg, num, pb, type PbField, str } from "../support/pb.ts";
import { RawSocket } from "../support/raw_ws.ts";
import { mb, startNodeChild } from "./support.ts";

const STREAMS = 40;
const REPLIES = 32;
const REPLY_BYTES = 64 * 1024;
const MAX_BYTES = 1 << 20;
const QUOTA_EXCEEDED = 21;

const header = (k: string, v: string): PbField => [9, [[1, k], [2, v]]];

async function client(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, "arqon.v1.proto");
  s.send(pb([[F.hello, [[1, name], [2, 1]]]]));
  await s.wait(F.welcome);
  return s;
}

Deno.test("stream bounds: 40 streams flooded past --stream-max-bytes end typed, RSS bounded, others served", async () => {
  const node = await startNodeChild(["--stream-max-bytes", String(MAX_BYTES)]);
  const sockets: RawSocket[] = [];
  try {
    const worker = await client(node.wsUrl, "worker");
    const req = await client(node.wsUrl, "requester");
    const other = await client(node.wsUrl, "other");
    sockets.push(worker, req, other);
    worker.send(pb([[F.subscribe, [[1, 1], [3, "jobs.flood"], [12, 1]]]]));
    await worker.wait(F.subscribed);
    const base = node.rss();

    for (let corr = 1; corr <= STREAMS; corr++) {
      req.send(pb([[F.request, [
        [1, corr],
        [2, [[3, "jobs.flood"], [11, new TextEncoder().encode("go")]]],
        [3, 30_000],
        [4, 1],
      ]]]));
    }
    const deliveries = await worker.wait(F.deliver, STREAMS);
    const chunk = new Uint8Array(REPLY_BYTES).fill(0x61);
    for (const d of deliveries) {
      const inbox = str(msg(d, 2), 16);
      for (let i = 0; i < REPLIES; i++) {
        worker.send(pb([[F.publish, [[3, [
          [3, inbox],
          [11, chunk],
          header("arqon-reply", "more"),
        ]]]]]));
      }
    }
    // Every stream ends with the typed error, after at most its bound of replies.
    await req.until(
      () => req.of(F.error).filter((e) => num(e, 1) === QUOTA_EXCEEDED).length === STREAMS,
      "every stream cut with QUOTA_EXCEEDED",
      60_000,
    );
    for (let corr = 1; corr <= STREAMS; corr++) {
      const got = req.of(F.reply).filter((r) => num(r, 1) === corr).length;
      assert.ok(got <= MAX_BYTES / REPLY_BYTES, `stream ${corr} got ${got} replies`);
    }
    const after = node.rss();
    console.log(`  RSS: base ${mb(base)}, after 80 MiB of replies to 40 streams ${mb(after)}`);
    assert.ok(after - base < 160 * 1024 * 1024, `RSS grew by ${mb(after - base)}`);

    // Still serving others.
    other.send(pb([[F.subscribe, [[1, 1], [3, "chat.*"], [12, 1]]]]));
    await other.wait(F.subscribed);
    other.send(pb([[F.publish, [[3, [[3, "chat.hi"], [11, new TextEncoder().encode("hi")]]]]]]));
    await other.wait(F.deliver);
    assert.ok(node.alive());
  } finally {
    await Promise.all(sockets.map((s) => s.close().catch(() => {})));
    await node.stop();
  }
});
