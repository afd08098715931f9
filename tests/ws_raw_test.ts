/**
 * End-to-end over a raw WebSocket with hand-built protobuf frames (tests/support/pb.ts),
 * and over the JSON subprotocol with hand-written text frames: no SDK involved.
 */
import assert from "node:assert/strict";
import { F, msg, num, pb, type PbField, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { metric, withNode } from "./support/node.ts";

const PROTO = "arqon.v1.proto";
const enc = new TextEncoder();

const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);
const subscribe = (id: number, pattern: string, corr: number, extra: PbField[] = []) =>
  pb([[F.subscribe, [[1, id], [3, pattern], [12, corr], ...extra]]]);
const publishFrame = (corr: number, topic: string, payload: string, extra: PbField[] = []) =>
  pb([[F.publish, [[1, corr], [2, 1], [3, [[3, topic], [11, enc.encode(payload)], ...extra]]]]]);
const batch = (...frames: Uint8Array[]) => pb([[F.batch, frames.map((f) => [1, f] as PbField)]]);

Deno.test("raw proto client: hello, wildcard subscribe, batched publish, stamped deliveries", async () => {
  await withNode(async (node) => {
    const sub = await RawSocket.open(node.wsUrl, PROTO);
    const pubSock = await RawSocket.open(node.wsUrl, PROTO);
    sub.send(hello("raw-sub"));
    const [welcome] = await sub.wait(F.welcome);
    assert.equal(num(welcome, 2), 1, "protocol version");
    assert.equal(str(welcome, 1), node.nodeId);
    assert.equal(num(welcome, 5), 1024 * 1024, "max frame bytes");

    sub.send(subscribe(7, "orders.*.created", 70));
    sub.send(subscribe(8, "orders.>", 80));
    const subscribed = await sub.wait(F.subscribed, 2);
    assert.deepEqual(subscribed.map((m) => num(m, 1)), [70, 80]);

    pubSock.send(hello("raw-pub"));
    await pubSock.wait(F.welcome);
    pubSock.send(batch(
      publishFrame(1, "orders.eu.created", "one", [[9, [[1, "k"], [2, "v"]]], [10, "text/plain"]]),
      publishFrame(2, "orders.eu.cancelled", "two"),
      publishFrame(3, "orders.us.created", "three", [[7, [[1, "traceparent"], [
        2,
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      ]]]]),
      publishFrame(4, "payments.eu.created", "four"),
    ));
    const acks = await pubSock.wait(F.ack, 4);
    assert.deepEqual(acks.map((a) => num(a, 1)), [1, 2, 3, 4], "acks carry correlation ids");
    assert.deepEqual(acks.map((a) => num(a, 3)), [1, 2, 3, 4], "sequence starts at 1, no gaps");
    assert.deepEqual(acks.map((a) => str(a, 4)), ["default", "default", "default", "default"]);

    // sub 7 sees *.created (2 pulses), sub 8 sees orders.> (3 pulses).
    await sub.until(() => sub.of(F.deliver).length === 5, "5 deliveries");
    const by = (id: number) =>
      sub.of(F.deliver).filter((d) => num(d, 1) === id).map((d) => msg(d, 2));
    assert.deepEqual(by(7).map((p) => str(p, 3)), ["orders.eu.created", "orders.us.created"]);
    assert.deepEqual(by(8).map((p) => str(p, 11)), ["one", "two", "three"]);
    const first = by(7)[0];
    assert.match(
      str(first, 1),
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.equal(str(first, 1), str(acks[0], 2), "delivered id equals acked id");
    assert.equal(num(first, 2), 1);
    assert.equal(str(first, 4), "raw-pub", "producer id is the client name");
    assert.equal(str(first, 5), "default");
    assert.equal(str(first, 10), "text/plain");
    const header = msg(first, 9);
    assert.equal(str(header, 1), "k");
    assert.equal(str(header, 2), "v");
    const ts = msg(first, 6);
    assert.ok(Math.abs(num(ts, 1) - Date.now()) < 60_000, "HLC wall time is near now");
    const traced = by(7)[1];
    assert.equal(
      str(msg(traced, 7), 2),
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "traceparent is propagated",
    );
    await sub.close();
    await pubSock.close();
  });
});

Deno.test("raw proto client: a producer cannot forge the node's stamp", async () => {
  await withNode(async (node) => {
    const s = await RawSocket.open(node.wsUrl, PROTO);
    s.send(subscribe(1, "forge.test", 1));
    await s.wait(F.subscribed);
    // The producer sets id, sequence, producer, reality and timestamp itself.
    s.send(publishFrame(9, "forge.test", "x", [
      [1, "not-a-uuid"],
      [2, 999],
      [4, "someone-else"],
      [6, [[1, 1], [2, 77]]],
    ]));
    const [d] = await s.wait(F.deliver);
    const p = msg(d, 2);
    assert.notEqual(str(p, 1), "not-a-uuid");
    assert.equal(num(p, 2), 1);
    assert.notEqual(str(p, 4), "someone-else");
    assert.equal(str(p, 5), "default");
    const ts = msg(p, 6);
    assert.ok(num(ts, 1) > 1, "wall time stamped by the node");
    assert.equal(num(ts, 2), 0, "logical counter stamped by the node");
    await s.close();
  });
});

Deno.test("bad input gets typed error frames and the connection survives", async () => {
  await withNode(async (node) => {
    const s = await RawSocket.open(node.wsUrl, PROTO);
    const errors = () => s.of(F.error);
    const expectError = async (n: number, code: number, what: string) => {
      await s.until(() => errors().length >= n, what);
      assert.equal(
        num(errors()[n - 1], 1),
        code,
        `${what}: code ${num(errors()[n - 1], 1)} ${str(errors()[n - 1], 2)}`,
      );
      assert.ok(str(errors()[n - 1], 2).length > 0, `${what} has a message`);
      return errors()[n - 1];
    };
    s.send(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    await expectError(1, 1, "invalid protobuf");
    s.send(pb([[99, [[1, 1]]]]));
    await expectError(2, 2, "unknown frame type");
    s.send(publishFrame(5, "ok.topic", "x", [[9, [[1, "k"], [2, new Uint8Array([0xc3, 0x28])]]]]));
    const utf8 = await expectError(3, 3, "invalid UTF-8");
    assert.equal(num(utf8, 3), 5, "correlation id of the failed publish");
    s.send(publishFrame(6, "Bad..Topic", "x"));
    const bad = await expectError(4, 4, "invalid topic");
    assert.equal(num(bad, 3), 6);
    s.send(subscribe(1, "a.>.b", 7));
    await expectError(5, 5, "invalid pattern");
    s.send(new Uint8Array(8192));
    await expectError(6, 6, "frame too large");
    s.send(subscribe(1, "a.b", 8));
    s.send(subscribe(2, "a.c", 9));
    s.send(subscribe(3, "a.d", 10));
    await expectError(7, 7, "too many subscriptions");
    s.send(batch(pb([[F.batch, []]])));
    await expectError(8, 18, "nested batch");
    s.send(pb([[F.deliver, [[1, 1]]]]));
    await expectError(9, 18, "server-only frame from a client");
    s.send(publishFrame(11, "x".repeat(300), "x"));
    await expectError(10, 4, "topic over 256 bytes");
    s.send(publishFrame(12, Array.from({ length: 17 }, () => "a").join("."), "x"));
    await expectError(11, 4, "more than 16 segments");
    // Still alive: ping answers pong and a valid publish is acknowledged.
    s.send(pb([[F.ping, [[1, 42]]]]));
    const [pong] = await s.wait(F.pong);
    assert.equal(num(pong, 1), 42);
    s.send(publishFrame(13, "ok.topic", "fine"));
    const [ack] = await s.wait(F.ack);
    assert.equal(num(ack, 1), 13);
    assert.equal(num(ack, 3), 1, "refused publishes consumed no sequence");
    assert.equal(s.closeCode, null, "connection survived");
    assert.ok(await metric(node, "arqon_errors_total", 'code="INVALID_TOPIC"') >= 3);
    await s.close();
  }, { maxFrameBytes: 4096, maxSubscriptionsPerConnection: 2 });
});

Deno.test("a WebSocket upgrade without our subprotocol gets HTTP 400 with a JSON error", async () => {
  await withNode(async (node) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
    await conn.write(enc.encode(
      "GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
    ));
    const buf = new Uint8Array(4096);
    let text = "";
    while (!text.includes("}}")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    assert.match(text, /^HTTP\/1\.1 400/);
    const body = JSON.parse(text.slice(text.indexOf("{")));
    assert.equal(body.error.code, "UNSUPPORTED_SUBPROTOCOL");
    const plain = await fetch(node.wsUrl.replace("ws:", "http:"));
    assert.equal(plain.status, 426);
    assert.equal((await plain.json()).error.code, "PROTOCOL_VIOLATION");
  });
});

Deno.test("JSON subprotocol: canonical JSON frames end to end", async () => {
  await withNode(async (node) => {
    const s = await RawSocket.open(node.wsUrl, "arqon.v1.json");
    assert.equal(s.ws.protocol, "arqon.v1.json");
    s.send(JSON.stringify({ hello: { clientName: "json-client", protocolVersion: 1 } }));
    await s.until(() => s.json.some((f) => f.welcome), "welcome");
    s.send(JSON.stringify({
      subscribe: { subscriptionId: 3, pattern: "chat.>", correlationId: "5" },
    }));
    await s.until(() => s.json.some((f) => f.subscribed), "subscribed");
    s.send(JSON.stringify({
      batch: {
        frames: [
          {
            publish: {
              correlationId: "1",
              ack: "ACK_MODE_RECEIVED",
              pulse: { topic: "chat.room.msg", payload: btoa("hello"), headers: { a: "b" } },
            },
          },
          {
            publish: {
              correlationId: "2",
              ack: "ACK_MODE_RECEIVED",
              pulse: { topic: "chat.room.msg", payload: btoa("world") },
            },
          },
        ],
      },
    }));
    await s.until(() => s.json.filter((f) => f.deliver).length === 2, "2 deliveries");
    const acks = s.json.filter((f) => f.ack).map((f) => f.ack as Record<string, string>);
    assert.deepEqual(acks.map((a) => [a.correlationId, a.sequence]), [["1", "1"], ["2", "2"]]);
    const delivered = s.json.filter((f) => f.deliver).map((
      f,
    ) => (f.deliver as { subscriptionId: number; pulse: Record<string, unknown> }));
    assert.equal(delivered[0].subscriptionId, 3);
    assert.equal(atob(delivered[0].pulse.payload as string), "hello");
    assert.equal(delivered[1].pulse.sequence, "2", "uint64 as a decimal string");
    assert.deepEqual(delivered[0].pulse.headers, { a: "b" });
    assert.equal(delivered[0].pulse.producerId, "json-client");
    s.send("{not json");
    s.send(JSON.stringify({ subscribe: "nope" }));
    s.send(JSON.stringify({ nothing: {} }));
    await s.until(() => s.json.filter((f) => f.error).length === 3, "3 errors");
    const codes = s.json.filter((f) => f.error).map((f) => (f.error as { code: string }).code);
    assert.deepEqual(codes, [
      "ERROR_CODE_INVALID_FRAME",
      "ERROR_CODE_INVALID_FRAME",
      "ERROR_CODE_UNKNOWN_FRAME",
    ]);
    await s.close();
  });
});
