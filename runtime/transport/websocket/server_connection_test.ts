import assert from "node:assert/strict";
import type { TransportSession } from "../transport.ts";
import { OP, writeAll } from "./frame.ts";
import { WsServerConnection } from "./server_connection.ts";

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
  // A 3 MiB frame (over the 256 KiB read buffer) written in small pieces, slowly.
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
