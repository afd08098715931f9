/**
 * Slow consumers: a subscriber that stops reading its TCP socket fills its bounded
 * queue at the node, where its overflow policy applies, is counted in /metrics, and is
 * told so with an error frame. The subscriber is a raw TCP client speaking WebSocket by
 * hand so that it can really stop reading.
 */
import assert from "node:assert/strict";
import { ArqonClient } from "../mod.ts";
import { F, frames, msg, num, pb, type PbMessage, str } from "./support/pb.ts";
import { metric, sleep, withNode } from "./support/node.ts";

const enc = new TextEncoder();

/** A client-side (masked) WebSocket binary frame. */
function wsFrame(payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const header = len < 126 ? [0x82, 0x80 | len] : [0x82, 0x80 | 126, len >> 8, len & 0xff];
  const mask = [1, 2, 3, 4];
  const out = new Uint8Array(header.length + 4 + len);
  out.set(header, 0);
  out.set(mask, header.length);
  for (let i = 0; i < len; i++) out[header.length + 4 + i] = payload[i] ^ mask[i % 4];
  return out;
}

/** Reads server WebSocket frames (unmasked); returns [binary payloads, rest, close seen]. */
function parseServerFrames(buf: Uint8Array): [Uint8Array[], Uint8Array, boolean] {
  const out: Uint8Array[] = [];
  let closed = false;
  let pos = 0;
  while (pos + 2 <= buf.length) {
    let len = buf[pos + 1] & 0x7f;
    let at = pos + 2;
    if (len === 126) {
      if (at + 2 > buf.length) break;
      len = (buf[at] << 8) | buf[at + 1];
      at += 2;
    } else if (len === 127) {
      if (at + 8 > buf.length) break;
      len = Number(new DataView(buf.buffer, buf.byteOffset + at, 8).getBigUint64(0));
      at += 8;
    }
    if (at + len > buf.length) break;
    if ((buf[pos] & 0x0f) === 2) out.push(buf.slice(at, at + len));
    if ((buf[pos] & 0x0f) === 8) closed = true;
    pos = at + len;
  }
  return [out, buf.slice(pos), closed];
}

/** Opens a raw WebSocket over TCP, subscribes, and returns the connection unread. */
async function stalledSubscriber(port: number, overflow: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(enc.encode(
    "GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Protocol: arqon.v1.proto\r\n\r\n",
  ));
  const buf = new Uint8Array(1024);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("closed during handshake");
    head += new TextDecoder().decode(buf.subarray(0, n));
  }
  assert.match(head, /^HTTP\/1\.1 101/);
  // Greeted (a client that never says hello is closed by --hello-timeout, which a slow
  // flood on a loaded machine would outlast); small queue: 50 deliveries; then stop reading.
  await conn.write(wsFrame(pb([[F.hello, [[1, "stalled"], [2, 1]]]])));
  await conn.write(
    wsFrame(pb([[F.subscribe, [[1, 1], [3, "flood.>"], [9, overflow], [10, 50], [12, 1]]]])),
  );
  return conn;
}

async function readAll(
  conn: Deno.TcpConn,
  untilClosed: boolean,
  ms: number,
): Promise<[number, PbMessage][]> {
  let pending: Uint8Array = new Uint8Array(0);
  const out: [number, PbMessage][] = [];
  const buf = new Uint8Array(1 << 16);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const n = await Promise.race([conn.read(buf), sleep(1000).then(() => -1)]);
    if (n === null) break;
    if (n === -1) {
      if (!untilClosed) break;
      continue;
    }
    const joined = new Uint8Array(pending.length + n);
    joined.set(pending);
    joined.set(buf.subarray(0, n), pending.length);
    const [payloads, rest, closed] = parseServerFrames(joined);
    pending = rest;
    for (const p of payloads) out.push(...frames(p));
    if (closed) break;
  }
  return out;
}

async function flood(url: string, count: number): Promise<void> {
  const pub = await ArqonClient.connect(url);
  const payload = new Uint8Array(16 * 1024);
  for (let i = 0; i < count; i++) {
    pub.publish(`flood.t${i % 3}`, payload, { ack: "none" });
    if (i % 100 === 0) await pub.drain();
  }
  await pub.publish("flood.end", "end");
  await pub.close();
}

Deno.test("drop-oldest: a stalled subscriber loses the oldest deliveries, counted and reported", async () => {
  await withNode(async (node) => {
    const conn = await stalledSubscriber(node.port, 1);
    await sleep(50);
    await flood(node.wsUrl, 2000); // 32 MB against a socket nobody reads
    const dropped = await metric(node, "arqon_deliveries_dropped_total", 'reason="drop_oldest"');
    assert.ok(dropped > 0, `drops counted (${dropped})`);
    assert.ok(await metric(node, "arqon_deliveries_dropped_total", 'reality="default"') > 0);
    // Now read: the error frame reports drops, the newest pulse survived, the link is up.
    const got = await readAll(conn, false, 5000);
    const errors = got.filter(([k]) => k === F.error).map(([, m]) => m);
    assert.ok(errors.some((e) => num(e, 1) === 8 && num(e, 5) > 0), "SLOW_CONSUMER with a count");
    const delivered = got.filter(([k]) => k === F.deliver).length;
    assert.ok(delivered < 2001, "not everything was delivered");
    const reported = errors.reduce((n, e) => n + num(e, 5), 0);
    assert.equal(reported + delivered, 2001, "every pulse is either delivered or reported dropped");
    conn.close();
    // The node keeps serving.
    const c = await ArqonClient.connect(node.wsUrl);
    assert.equal((await c.publish("after.flood", "x"))!.sequence, 2002);
    await c.close();
  }, { highWaterBytes: 64 * 1024 });
});

Deno.test("disconnect policy: an overflowing subscriber is told and disconnected", async () => {
  await withNode(async (node) => {
    const conn = await stalledSubscriber(node.port, 3);
    await sleep(50);
    await flood(node.wsUrl, 2000);
    assert.equal(
      await metric(node, "arqon_disconnects_total", 'reason="slow_consumer"'),
      1,
    );
    const got = await readAll(conn, true, 10_000);
    const errors = got.filter(([k]) => k === F.error).map(([, m]) => m);
    assert.ok(errors.some((e) => num(e, 1) === 8), "SLOW_CONSUMER error frame before the close");
    conn.close();
    assert.equal(await metric(node, "arqon_subscriptions"), 0, "its subscription was released");
  }, { highWaterBytes: 64 * 1024 });
});

Deno.test("large pulses: a resumed slow reader gets messages of one batch, not 256 pulses", async () => {
  await withNode(async (node) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
    await conn.write(enc.encode(
      "GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Protocol: arqon.v1.proto\r\n\r\n",
    ));
    const buf = new Uint8Array(1 << 16);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("closed during handshake");
      head += new TextDecoder().decode(buf.subarray(0, n));
    }
    await conn.write(wsFrame(pb([[F.hello, [[1, "big"], [2, 1]]]])));
    // Block policy, room for all 300 pulses of 64 KiB: the queue holds them while the
    // reader does not read, and everything is written once it does.
    await conn.write(wsFrame(pb([[F.subscribe, [
      [1, 1],
      [3, "big.>"],
      [9, 2],
      [10, 1000],
      [11, 40 * 1024 * 1024],
      [12, 1],
    ]]])));
    await sleep(100);
    const pub = await ArqonClient.connect(node.wsUrl);
    const payload = new Uint8Array(64 * 1024);
    for (let i = 0; i < 300; i++) {
      payload[0] = i & 0xff;
      pub.publish("big.t", payload, { ack: "none" });
      if (i % 20 === 0) await pub.drain();
    }
    await pub.publish("big.end", "end");
    await sleep(300); // the node's socket buffer is full: the queue holds the rest
    // Read everything now, recording each WebSocket message's size.
    let pending: Uint8Array = new Uint8Array(0);
    let largest = 0;
    const seen: number[] = [];
    const deadline = Date.now() + 20_000;
    let ended = false;
    while (!ended && Date.now() < deadline) {
      const n = await Promise.race([conn.read(buf), sleep(2000).then(() => -1)]);
      if (n === null || n === -1) break;
      const joined = new Uint8Array(pending.length + n);
      joined.set(pending);
      joined.set(buf.subarray(0, n), pending.length);
      const [payloads, rest] = parseServerFrames(joined);
      pending = rest;
      for (const p of payloads) {
        largest = Math.max(largest, p.length);
        for (const [kind, m] of frames(p)) {
          if (kind !== F.deliver) continue;
          const pulse = msg(m, 2);
          if (str(pulse, 3) === "big.end") ended = true;
          else seen.push((pulse.get(11)![0] as Uint8Array)[0]);
        }
      }
    }
    assert.ok(ended, "the end marker arrived");
    assert.equal(seen.length, 300, "every pulse delivered (block policy)");
    assert.deepEqual(seen, Array.from({ length: 300 }, (_, i) => i & 0xff), "in order");
    // One batch (256 KiB) plus one pulse and framing; before, 256 pulses = 16 MiB.
    assert.ok(largest <= 256 * 1024 + 66 * 1024 + 4096, `largest message ${largest} bytes`);
    conn.close();
    await pub.close();
  }, { highWaterBytes: 64 * 1024 });
});
