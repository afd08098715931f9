/**
 * The raw TCP transport's bounds driven past on purpose, by raw clients (not our SDK): a
 * length prefix over `--max-frame-bytes` (FRAME_TOO_LARGE, closed), a prefix or frame
 * that never finishes (TIMEOUT after `--tcp-frame-timeout`, closed), connections over
 * `--max-connections` (QUOTA_EXCEEDED, closed), hundreds of connections holding frames
 * announced large that never arrive (the node's RSS stays bounded; a node child process).
 * Other clients are served throughout.
 */
import assert from "node:assert/strict";
import { F, num, pb, str } from "./support/pb.ts";
import { RawTcp } from "./support/raw_tcp.ts";
import { metric, withNode } from "./support/node.ts";
import { mb, NodeChild, sleep } from "./adversarial/edge_support.ts";

const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);
const ping = (nonce: number) => pb([[F.ping, [[1, nonce]]]]);
const publish = (corr: number, topic: string) =>
  pb([[F.publish, [[1, corr], [2, 1], [3, [[3, topic], [11, "x"]]]]]]);
const prefix = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};

async function greeted(url: string, name: string): Promise<RawTcp> {
  const c = await RawTcp.open(url);
  await c.send(hello(name));
  await c.wait(F.welcome);
  return c;
}

async function served(url: string, nonce: number): Promise<void> {
  const c = await greeted(url, `calm-${nonce}`);
  await c.send(ping(nonce));
  assert.equal(num((await c.wait(F.pong))[0], 1), nonce);
  await c.send(publish(nonce, "calm.topic"));
  assert.equal(num((await c.wait(F.ack))[0], 1), nonce, "publish acknowledged");
  c.close();
}

Deno.test("TCP limits: oversized prefix -> FRAME_TOO_LARGE and close; unfinished prefix or frame -> TIMEOUT and close", async () => {
  await withNode(async (node) => {
    const url = node.tcpUrl!;
    const big = await greeted(url, "big");
    await big.write(prefix(65_537));
    await big.closed;
    const [tooLarge] = big.of(F.error);
    assert.equal(num(tooLarge, 1), 6, "ERROR_CODE_FRAME_TOO_LARGE");
    assert.match(str(tooLarge, 2), /65537 bytes exceeds the limit of 65536/);
    // 0xFFFFFFFF: the largest prefix, refused from its 4 bytes (nothing allocated for it).
    const huge = await greeted(url, "huge");
    await huge.write(prefix(0xffff_ffff));
    await huge.closed;
    assert.equal(num(huge.of(F.error)[0], 1), 6);

    const halfPrefix = await greeted(url, "half-prefix");
    await halfPrefix.write(new Uint8Array([0, 0]));
    const halfFrame = await greeted(url, "half-frame");
    await halfFrame.write(prefix(1000));
    await halfFrame.write(new Uint8Array(10));
    // Meanwhile another client is served.
    await served(url, 1);
    await halfPrefix.closed;
    await halfFrame.closed;
    for (const c of [halfPrefix, halfFrame]) {
      const [timeout] = c.of(F.error);
      assert.equal(num(timeout, 1), 10, "ERROR_CODE_TIMEOUT");
      assert.match(str(timeout, 2), /frame not complete within 1000 ms/);
    }
    assert.equal(await metric(node, "arqon_limit_hits_total", 'limit="tcp_frame_too_large"'), 2);
    assert.equal(await metric(node, "arqon_limit_hits_total", 'limit="tcp_frame_timeout"'), 2);
    await served(url, 2);
  }, { tcpPort: 0, maxFrameBytes: 65_536, tcpFrameTimeoutSeconds: 1 });
});

Deno.test("TCP limits: a connection over --max-connections gets QUOTA_EXCEEDED and is closed; held ones are served", async () => {
  await withNode(async (node) => {
    const url = node.tcpUrl!;
    const held = [await greeted(url, "a"), await greeted(url, "b"), await greeted(url, "c")];
    const refused = await RawTcp.open(url);
    await refused.closed;
    const [err] = refused.of(F.error);
    assert.equal(num(err, 1), 21, "ERROR_CODE_QUOTA_EXCEEDED");
    assert.match(str(err, 2), /maximum of connections/);
    for (const [i, c] of held.entries()) {
      await c.send(ping(i + 10));
      assert.equal(num((await c.wait(F.pong))[0], 1), i + 10, "held connections served");
    }
    held[0].close();
    // Its slot comes back: a new connection is admitted (once the node saw the close).
    let admitted = false;
    for (let i = 0; i < 50 && !admitted; i++) {
      await sleep(20);
      const c = await RawTcp.open(url);
      await c.send(hello("late"));
      await c.until(() => c.received.length > 0 || c.isClosed, "an answer").catch(() => {});
      admitted = c.of(F.welcome).length === 1;
      c.close();
    }
    assert.ok(admitted, "a slot freed by a close is reused");
    for (const c of held) c.close();
  }, { tcpPort: 0, maxConnections: 3 });
});

Deno.test({
  name:
    "TCP limits: 300 connections holding frames announced at 1 MB keep the node's RSS bounded; all time out; others served",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await NodeChild.start(["--tcp-port", "0", "--tcp-frame-timeout", "3"]);
    const url = node.banner.match(/raw tcp listening on (tcp:\/\/\S+)/)![1];
    const conns: RawTcp[] = [];
    try {
      const before = node.rss();
      for (let i = 0; i < 300; i++) {
        const c = await RawTcp.open(url);
        await c.send(hello(`lying-${i}`));
        // Announces 1,000,000 bytes (under the 1 MiB limit), sends 1 KB of them.
        await c.write(prefix(1_000_000));
        await c.write(new Uint8Array(1024));
        conns.push(c);
      }
      await served(url, 3);
      const during = node.rss();
      console.log(`  RSS ${mb(before)} -> ${mb(during)} holding 300 unfinished 1 MB frames`);
      // 300 MB if each announced frame were allocated; a session and a few KB each are
      // (measured: about 90 KB a connection in all).
      assert.ok(during - before < 100 * 1024 * 1024, `RSS grew ${mb(during - before)}`);
      await Promise.all(conns.map((c) => c.closed));
      assert.ok(
        conns.every((c) => c.of(F.error).some((e) => num(e, 1) === 10)),
        "every one got TIMEOUT",
      );
      await served(url, 4);
    } finally {
      for (const c of conns) c.close();
      await node.stop();
    }
  },
});

Deno.test("TCP limits: a silent connection gets a Ping, then TIMEOUT and close; one that answers stays", async () => {
  await withNode(async (node) => {
    const url = node.tcpUrl!;
    const silent = await greeted(url, "silent");
    const polite = await greeted(url, "polite");
    // The polite client answers each Ping with a Pong carrying its nonce.
    let answered = 0;
    const answering = (async () => {
      while (!polite.isClosed && answered < 3) {
        await polite.until(() => polite.of(F.ping).length > answered, "a ping", 10_000);
        const nonce = num(polite.of(F.ping)[answered], 1);
        answered++;
        await polite.send(pb([[F.pong, [[1, nonce]]]]));
      }
    })();
    await silent.closed;
    assert.ok(silent.of(F.ping).length >= 1, "pinged before being closed");
    const [err] = silent.of(F.error);
    assert.equal(num(err, 1), 10, "ERROR_CODE_TIMEOUT");
    assert.match(str(err, 2), /silent for 1000 ms/);
    await answering;
    assert.ok(!polite.isClosed, "the client answering pings stays connected");
    await polite.send(ping(9));
    assert.equal(num((await polite.wait(F.pong))[0], 1), 9);
    polite.close();
  }, { tcpPort: 0, idleTimeoutSeconds: 1 });
});
