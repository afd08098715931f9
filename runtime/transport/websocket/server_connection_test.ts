import assert from "node:assert/strict";
import type { TransportSession } from "../transport.ts";
import { OP, writeAll } from "./frame.ts";
import { readBuffersTaken, WsServerConnection } from "./server_connection.ts";

/** A masked client frame, as RFC 6455 requires of clients. */
function clientFrame(opcode: number, body: Uint8Array, fin = true, masked = true): Uint8Array {
  const len = body.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = new Uint8Array(head + (masked ? 4 : 0) + len);
  out[0] = (fin ? 0x80 : 0) | opcode;
  out[1] = (masked ? 0x80 : 0) | (len < 126 ? len : len < 65536 ? 126 : 127);
  if (len >= 126 && len < 65536) new DataView(out.buffer).setUint16(2, len);
  if (len >= 65536) new DataView(out.buffer).setBigUint64(2, BigInt(len));
  const key = masked ? [0x12, 0x34, 0x56, 0x78] : [0, 0, 0, 0];
  if (masked) out.set(key, head);
  for (let i = 0; i < len; i++) out[head + (masked ? 4 : 0) + i] = body[i] ^ key[i & 3];
  return out;
}

/** Reads server frames (unmasked) until the connection closes: [opcode, body][]. */
async function serverFrames(conn: Deno.Conn): Promise<[number, Uint8Array][]> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(1 << 16);
  while (true) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  const frames: [number, Uint8Array][] = [];
  for (let p = 0; p < all.length;) {
    let len = all[p + 1] & 0x7f;
    let h = 2;
    if (len === 126) [len, h] = [(all[p + 2] << 8) | all[p + 3], 4];
    frames.push([all[p] & 0x0f, all.slice(p + h, p + h + len)]);
    p += h + len;
  }
  return frames;
}

/** A server connection on one end of a loopback TCP pair and a raw client on the other. */
async function pair(maxMessageBytes = 1 << 20) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port }),
    listener.accept(),
  ]);
  listener.close();
  const received: (Uint8Array | string)[] = [];
  const closed = Promise.withResolvers<void>();
  const session: TransportSession = {
    receive: (m) => void received.push(m),
    closed: () => closed.resolve(),
  };
  const connection = new WsServerConnection(server, "test", {
    maxMessageBytes,
    idleTimeoutSeconds: 0,
  });
  connection.start(session, new Uint8Array(0));
  return { client, connection, received, closed: closed.promise };
}

const enc = new TextEncoder();

/** A close body: `code`, then `reasonBytes` bytes of ASCII reason. */
function closeOf(code: number, reasonBytes = 0): Uint8Array {
  const body = new Uint8Array(2 + reasonBytes).fill(0x61);
  body[0] = code >> 8;
  body[1] = code & 0xff;
  return body;
}

Deno.test("messages, fragments and pings; the close handshake echoes the code", async () => {
  const { client, connection, received, closed } = await pair();
  const big = new Uint8Array(70_000).map((_, i) => i & 0xff);
  await writeAll(client, clientFrame(OP.binary, big));
  await writeAll(client, clientFrame(OP.text, enc.encode("héllo")));
  // A fragmented text message with a ping between its fragments.
  await writeAll(client, clientFrame(OP.text, enc.encode("frag"), false));
  await writeAll(client, clientFrame(OP.ping, enc.encode("p1")));
  await writeAll(client, clientFrame(OP.continuation, enc.encode("mented"), true));
  connection.send(enc.encode("out"));
  connection.send("text out");
  await writeAll(client, clientFrame(OP.close, new Uint8Array([0x03, 0xe8])));
  const frames = await serverFrames(client);
  await closed;
  client.close();
  assert.deepEqual(received[0], big);
  assert.deepEqual(received.slice(1), ["héllo", "fragmented"]);
  const kinds = frames.map(([op]) => op);
  assert.deepEqual(kinds.filter((k) => k === OP.pong).length, 1);
  assert.deepEqual(frames.find(([op]) => op === OP.pong)![1], enc.encode("p1"));
  assert.deepEqual(frames.find(([op]) => op === OP.binary)![1], enc.encode("out"));
  assert.equal(new TextDecoder().decode(frames.find(([op]) => op === OP.text)![1]), "text out");
  assert.deepEqual(frames.at(-1), [OP.close, new Uint8Array([0x03, 0xe8])]);
  assert.equal(connection.bufferedAmount(), 0);
});

for (
  const [name, frame, code, max] of [
    ["an unmasked frame", clientFrame(OP.binary, new Uint8Array(4), true, false), 1002, 1 << 20],
    ["text that is not UTF-8", clientFrame(OP.text, new Uint8Array([0xc3, 0x28])), 1007, 1 << 20],
    ["a message over the limit", clientFrame(OP.binary, new Uint8Array(2000)), 1009, 1000],
    ["a continuation of nothing", clientFrame(OP.continuation, new Uint8Array(1)), 1002, 1 << 20],
    // RFC 6455 §5.5: control frames are short and never fragmented.
    ["a ping of 126 bytes", clientFrame(OP.ping, new Uint8Array(126)), 1002, 1 << 20],
    ["a fragmented ping", clientFrame(OP.ping, new Uint8Array(1), false), 1002, 1 << 20],
    ["a close frame of 126 bytes", clientFrame(OP.close, closeOf(1000, 124)), 1002, 1 << 20],
    // RFC 6455 §5.5.1, §7.4: a close body is empty or a valid code and a UTF-8 reason.
    ["a close frame with a 1-byte body", clientFrame(OP.close, new Uint8Array([3])), 1002, 1 << 20],
    ...[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535].map((code) =>
      [`close code ${code}`, clientFrame(OP.close, closeOf(code)), 1002, 1 << 20] as const
    ),
    [
      "a close reason that is not UTF-8",
      clientFrame(OP.close, new Uint8Array([0x03, 0xe8, 0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xff])),
      1007,
      1 << 20,
    ],
  ] as const
) {
  Deno.test(`${name} closes the connection with ${code}`, async () => {
    const { client, received, closed } = await pair(max);
    await writeAll(client, frame);
    const frames = await serverFrames(client);
    await closed;
    client.close();
    assert.equal(received.length, 0);
    const [op, body] = frames.at(-1)!;
    assert.equal(op, OP.close);
    assert.equal((body[0] << 8) | body[1], code);
  });
}

Deno.test("empty continuation frames count against the message limit (1009)", async () => {
  const { client, received, closed } = await pair(1000);
  await writeAll(client, clientFrame(OP.binary, new Uint8Array(1), false));
  // 1,000 bytes of limit: far fewer than 10,000 empty continuations must end it.
  const empty = clientFrame(OP.continuation, new Uint8Array(0), false);
  const many = new Uint8Array(empty.length * 10_000);
  for (let i = 0; i < 10_000; i++) many.set(empty, i * empty.length);
  const reading = serverFrames(client);
  // Without a limit the connection would stay open: give up after 5 s.
  const timer = setTimeout(() => client.close(), 5000);
  await writeAll(client, many).catch(() => {});
  const frames = await reading;
  clearTimeout(timer);
  await closed;
  client.close();
  assert.equal(received.length, 0);
  const [op, body] = frames.at(-1)!;
  assert.equal(op, OP.close);
  assert.equal((body[0] << 8) | body[1], 1009);
});

Deno.test("fragments and large frames arriving in pieces are reassembled intact", async () => {
  const { client, received, closed } = await pair(4 << 20);
  // A 3 MiB frame (over a pooled 64 KiB read buffer) written in small pieces, slowly.
  const big = new Uint8Array(3 << 20).map((_, i) => (i * 7) & 0xff);
  const frame = clientFrame(OP.binary, big);
  for (let at = 0; at < frame.length; at += 200_000) {
    await writeAll(client, frame.subarray(at, at + 200_000));
    await new Promise((r) => setTimeout(r, 1));
  }
  // A message in 300 fragments of varying sizes, some empty.
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) parts.push(new Uint8Array((i * 37) % 5000).fill(i & 0xff));
  for (let i = 0; i < parts.length; i++) {
    const op = i === 0 ? OP.binary : OP.continuation;
    await writeAll(client, clientFrame(op, parts[i], i === parts.length - 1));
  }
  await writeAll(client, clientFrame(OP.close, new Uint8Array([0x03, 0xe8])));
  await serverFrames(client);
  await closed;
  client.close();
  assert.equal(received.length, 2);
  assert.deepEqual(received[0], big);
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    whole.set(p, at);
    at += p.length;
  }
  assert.deepEqual(received[1], whole);
});

Deno.test("a peer that sends pings and never reads is closed (1008) and counted", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port }),
    listener.accept(),
  ]);
  listener.close();
  const closed = Promise.withResolvers<void>();
  let overflows = 0;
  const connection = new WsServerConnection(server, "test", {
    maxMessageBytes: 1 << 20,
    idleTimeoutSeconds: 0,
    maxBufferedBytes: 256 * 1024,
    onBufferedOverflow: () => overflows++,
  });
  connection.start({ receive: () => {}, closed: () => closed.resolve() }, new Uint8Array(0));
  const ping = clientFrame(OP.ping, new Uint8Array(125));
  const burst = new Uint8Array(ping.length * 500);
  for (let i = 0; i < 500; i++) burst.set(ping, i * ping.length);
  // Socket buffers take some megabytes of pongs first; then the connection's own bound.
  for (let i = 0; i < 2000 && overflows === 0; i++) {
    if (!await writeAll(client, burst).then(() => true, () => false)) break;
  }
  assert.equal(overflows, 1, "the overflow was reported once");
  assert.ok(connection.bufferedAmount() < 2 * 1024 * 1024, "what was queued was dropped");
  // Read now: the pongs the socket held, then the close frame.
  const frames = await serverFrames(client);
  await closed;
  client.close();
  const [op, body] = frames.at(-1)!;
  assert.equal(op, OP.close);
  assert.equal((body[0] << 8) | body[1], 1008);
  assert.equal(overflows, 1);
});

Deno.test("frames cut anywhere by reads arrive intact; an idle connection holds at most one pooled buffer", async () => {
  const { client, received, closed } = await pair(1 << 20);
  // Frames of 0 to 90,000 bytes (under, around and over a pooled buffer), written as one
  // stream cut into pieces of odd sizes, so reads end inside headers and bodies.
  const sizes = [0, 1, 125, 126, 1000, 1024, 1500, 65_535, 65_536, 70_000, 90_000, 3, 20_000];
  const bodies = sizes.map((n, k) => new Uint8Array(n).map((_, i) => (i * 31 + k) & 0xff));
  const stream = bodies.map((b) => clientFrame(OP.binary, b));
  const all = new Uint8Array(stream.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of stream) {
    all.set(f, at);
    at += f.length;
  }
  const pieces = [1, 7, 1023, 1025, 4096, 65_537, 333];
  for (let i = 0, p = 0; i < all.length; p++) {
    const n = pieces[p % pieces.length];
    await writeAll(client, all.subarray(i, i + n));
    i += n;
    if (p % 3 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  const deadline = Date.now() + 5000;
  while (received.length < sizes.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(received.length, sizes.length);
  for (let k = 0; k < sizes.length; k++) assert.deepEqual(received[k], bodies[k], `frame ${k}`);
  // Waiting for the next message after large ones: in one pooled buffer (one read a message).
  assert.equal(readBuffersTaken(), 1);
  // After a small message it waits in its own small buffer: none of the pool is held.
  await writeAll(client, clientFrame(OP.binary, new Uint8Array(10)));
  while (received.length < sizes.length + 1 && Date.now() < deadline + 5000) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(received.length, sizes.length + 1);
  assert.equal(readBuffersTaken(), 0);
  await writeAll(client, clientFrame(OP.close, new Uint8Array([0x03, 0xe8])));
  await serverFrames(client);
  await closed;
  client.close();
});

Deno.test("idle connections share one timer: a silent one is pinged, then closed (1001)", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = async () => {
    const [client, server] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port }),
      listener.accept(),
    ]);
    const closed = Promise.withResolvers<void>();
    const connection = new WsServerConnection(server, "test", {
      maxMessageBytes: 1 << 20,
      idleTimeoutSeconds: 0.2,
    });
    connection.start({ receive: () => {}, closed: () => closed.resolve() }, new Uint8Array(0));
    return { client, closed: closed.promise };
  };
  const silent = await open();
  const talker = await open();
  listener.close();
  // The talker speaks (unsolicited pongs) every 80 ms: it stays open.
  let silentEnded = false;
  const talking = (async () => {
    while (!silentEnded) {
      await writeAll(talker.client, clientFrame(OP.pong, new Uint8Array(0)));
      await new Promise((r) => setTimeout(r, 80));
    }
  })();
  const frames = await serverFrames(silent.client);
  // Ended once the close frame was unanswered for a second.
  await silent.closed;
  silentEnded = true;
  silent.client.close();
  assert.deepEqual(frames.map(([op]) => op), [OP.ping, OP.close]);
  assert.equal((frames[1][1][0] << 8) | frames[1][1][1], 1001);
  await talking;
  // Still open after five times the timeout: close it ourselves.
  await writeAll(talker.client, clientFrame(OP.close, new Uint8Array([0x03, 0xe8])));
  const last = await serverFrames(talker.client);
  await talker.closed;
  talker.client.close();
  assert.deepEqual(last.at(-1), [OP.close, new Uint8Array([0x03, 0xe8])]);
});

Deno.test("valid close codes are echoed, with a UTF-8 reason", async () => {
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 3000, 4999]) {
    const { client, closed } = await pair();
    const body = new Uint8Array([code >> 8, code & 0xff, ...enc.encode("bye κόσμε")]);
    await writeAll(client, clientFrame(OP.close, body));
    const frames = await serverFrames(client);
    await closed;
    client.close();
    const [op, echo] = frames.at(-1)!;
    assert.equal(op, OP.close);
    assert.equal((echo[0] << 8) | echo[1], code, `code ${code} echoed`);
  }
});

Deno.test("connections of large messages wait in pooled buffers up to a bound; all are served", async () => {
  // 40 connections (over the bound of 32) each send a 50 KB message, then idle.
  const pairs = await Promise.all(Array.from({ length: 40 }, () => pair(1 << 20)));
  const body = new Uint8Array(50_000).map((_, i) => i & 0xff);
  for (const p of pairs) await writeAll(p.client, clientFrame(OP.binary, body));
  const deadline = Date.now() + 5000;
  while (pairs.some((p) => p.received.length < 1) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  for (const p of pairs) assert.deepEqual(p.received, [body]);
  // The pooled waits are bounded: the other connections wait in their idle buffers.
  assert.equal(readBuffersTaken(), 32);
  // A second message on every connection still arrives whole, however it waited.
  for (const p of pairs) await writeAll(p.client, clientFrame(OP.binary, body));
  while (pairs.some((p) => p.received.length < 2) && Date.now() < deadline + 5000) {
    await new Promise((r) => setTimeout(r, 10));
  }
  for (const p of pairs) assert.deepEqual(p.received, [body, body]);
  assert.ok(readBuffersTaken() <= 32);
  for (const p of pairs) {
    await writeAll(p.client, clientFrame(OP.close, new Uint8Array([0x03, 0xe8])));
    await serverFrames(p.client);
    await p.closed;
    p.client.close();
  }
  assert.equal(readBuffersTaken(), 0);
});
