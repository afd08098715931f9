/**
 * The raw TCP transport (`--tcp-port`) end to end with clients that are not our SDK: a
 * `Deno.connect` client framing protobuf by hand (tests/support/raw_tcp.ts) and a Python
 * raw-socket client (tests/testdata/tcp_raw_client.py) written from docs/API.md. Pulses
 * cross transports (TCP to WebSocket and back); a frame cut into single bytes is whole.
 */
import assert from "node:assert/strict";
import { F, msg, num, pb, type PbField, str } from "./support/pb.ts";
import { RawTcp } from "./support/raw_tcp.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { withNode } from "./support/node.ts";
import { createTestPki, sClient } from "./security_tls_fixture.ts";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";

const enc = new TextEncoder();
const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);
const subscribe = (id: number, pattern: string, corr: number) =>
  pb([[F.subscribe, [[1, id], [3, pattern], [12, corr]]]]);
const publishFrame = (corr: number, topic: string, payload: string) =>
  pb([[F.publish, [[1, corr], [2, 1], [3, [[3, topic], [11, enc.encode(payload)]]]]]]);
const batch = (...frames: Uint8Array[]) => pb([[F.batch, frames.map((f) => [1, f] as PbField)]]);

Deno.test("raw TCP: hello, subscribe, batched publish, acks and deliveries in order, across transports", async () => {
  await withNode(async (node) => {
    assert.ok(node.tcpUrl?.startsWith("tcp://127.0.0.1:"), `tcpUrl ${node.tcpUrl}`);
    const sub = await RawTcp.open(node.tcpUrl!);
    await sub.send(hello("tcp-sub"));
    const [welcome] = await sub.wait(F.welcome);
    assert.equal(str(welcome, 1), node.nodeId);
    assert.equal(num(welcome, 5), 1024 * 1024, "max frame bytes");
    await sub.send(subscribe(3, "orders.>", 30));
    assert.equal(num((await sub.wait(F.subscribed))[0], 1), 30);

    // A WebSocket subscriber sees what the TCP client publishes, and the other way round.
    const ws = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    ws.send(hello("ws-side"));
    await ws.wait(F.welcome);
    ws.send(subscribe(1, "orders.>", 10));
    await ws.wait(F.subscribed);

    const pub = await RawTcp.open(node.tcpUrl!);
    await pub.send(hello("tcp-pub"));
    await pub.wait(F.welcome);
    const n = 200;
    const frames = Array.from({ length: n }, (_, i) => publishFrame(i + 1, "orders.tcp", `t${i}`));
    for (let i = 0; i < n; i += 50) await pub.send(batch(...frames.slice(i, i + 50)));
    const acks = await pub.wait(F.ack, n);
    assert.deepEqual(acks.map((a) => num(a, 1)), frames.map((_, i) => i + 1), "correlation ids");
    assert.deepEqual(acks.map((a) => num(a, 3)), frames.map((_, i) => i + 1), "no gaps");

    ws.send(publishFrame(9001, "orders.ws", "from-ws"));
    await sub.until(() => sub.of(F.deliver).length === n + 1, `${n + 1} deliveries`);
    const payloads = sub.of(F.deliver).map((d) =>
      new TextDecoder().decode(msg(d, 2).get(11)![0] as Uint8Array)
    );
    assert.deepEqual(payloads, [...frames.map((_, i) => `t${i}`), "from-ws"], "order kept");
    assert.equal(str(msg(sub.of(F.deliver)[0], 2), 4), "tcp-pub", "producer is the client name");
    await ws.until(() => ws.of(F.deliver).length === n + 1, "ws deliveries");

    // One frame written a byte at a time is still one frame.
    const split = publishFrame(77, "orders.split", "bytewise");
    const wire = new Uint8Array(4 + split.length);
    new DataView(wire.buffer).setUint32(0, split.length);
    wire.set(split, 4);
    for (const b of wire) await pub.write(new Uint8Array([b]));
    await pub.until(() => pub.of(F.ack).some((a) => num(a, 1) === 77), "ack of the split frame");
    await sub.until(() => sub.of(F.deliver).length === n + 2, "split frame delivered");

    // Bytes that are not a Frame: a typed error, and the connection still serves.
    await pub.send(new Uint8Array([0xff, 0xff, 0xff]));
    const [err] = await pub.wait(F.error);
    assert.ok(num(err, 1) > 0, "an error code");
    await pub.send(pb([[F.ping, [[1, 5]]]]));
    assert.equal(num((await pub.wait(F.pong))[0], 1), 5, "still served after the bad frame");

    sub.close();
    pub.close();
    await ws.close();
  }, { tcpPort: 0 });
});

Deno.test("raw TCP: no hello in time gets TIMEOUT and the connection closed", async () => {
  await withNode(async (node) => {
    const c = await RawTcp.open(node.tcpUrl!);
    await c.closed;
    const [err] = c.of(F.error);
    assert.equal(num(err, 1), 10, "ERROR_CODE_TIMEOUT");
  }, { tcpPort: 0, helloTimeoutSeconds: 1 });
});

const PYTHON = "/usr/bin/python3";
function pythonHas(module: string): boolean {
  try {
    return new Deno.Command(PYTHON, { args: ["-c", `import ${module}`], stderr: "null" })
      .outputSync().code === 0;
  } catch {
    return false;
  }
}
const HAS_PROTOBUF = pythonHas("google.protobuf");
const SDK = new URL("../sdk/python/", import.meta.url).pathname;
const HAS_PB2 = (() => {
  try {
    return Deno.statSync(`${SDK}arqon/_proto/arqon_pb2.py`).isFile;
  } catch {
    return false;
  }
})();
if (!HAS_PROTOBUF || !HAS_PB2) {
  console.warn(
    "tcp_raw_test: Python client skipped: needs python3-protobuf and " +
      "sdk/python/arqon/_proto/arqon_pb2.py (deno task build)",
  );
}

Deno.test({
  name: "raw TCP: a Python raw-socket client publishes, receives, gets a typed error",
  ignore: !HAS_PROTOBUF || !HAS_PB2,
  fn: async () => {
    await withNode(async (node) => {
      const port = String(node.tcpPort);
      const out = await new Deno.Command(PYTHON, {
        args: [
          new URL("./testdata/tcp_raw_client.py", import.meta.url).pathname,
          "127.0.0.1",
          port,
          "50",
          SDK,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const result = JSON.parse(text);
      assert.equal(result.welcome, node.nodeId);
      assert.deepEqual(result.acks, Array.from({ length: 50 }, (_, i) => i + 1));
      assert.deepEqual(result.payloads, Array.from({ length: 50 }, (_, i) => `p${i}`));
      assert.equal(result.error, "ERROR_CODE_INVALID_FRAME");
    }, { tcpPort: 0 });
  },
});

Deno.test({
  name: "raw TCP over TLS 1.3: a raw Deno.connectTls client, TLS 1.2 refused",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const pki = await createTestPki();
    try {
      await withNode(async (node) => {
        assert.match(node.tcpUrl ?? "", /^tls:\/\/127\.0\.0\.1:\d+$/);
        const port = node.tcpPort!;
        const old = await sClient(port, "-tls1_2", `${pki.dir}/ca.pem`);
        assert.notEqual(old.code, 0, "TLS 1.2 refused");
        const c = await RawTcp.open(`tls://localhost:${port}`, { caCerts: [pki.caCert] });
        await c.send(hello("tls-raw"));
        assert.equal(str((await c.wait(F.welcome))[0], 1), node.nodeId);
        await c.send(subscribe(1, "t.>", 1));
        await c.wait(F.subscribed);
        await c.send(batch(publishFrame(1, "t.a", "x"), publishFrame(2, "t.b", "y")));
        await c.wait(F.ack, 2);
        await c.until(() => c.of(F.deliver).length === 2, "2 deliveries over TLS");
        c.close();
      }, { tcpPort: 0, tlsCert: `${pki.dir}/leaf.pem`, tlsKey: `${pki.dir}/leaf.key` });
    } finally {
      await pki.remove();
    }
  },
});

Deno.test({
  name:
    "raw TCP with auth: no token -> UNAUTHORIZED (closed at the hello deadline); a token's grants hold (FORBIDDEN outside them)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "arqon-tcp-auth-" });
    const key = await writeNodeKeyFile(`${dir}/node.key`);
    try {
      await withNode(async (node) => {
        const anonymous = await RawTcp.open(node.tcpUrl!);
        await anonymous.send(hello("nobody"));
        // As on WebSocket: refused, may hello again, closed at the hello deadline.
        await anonymous.closed;
        assert.equal(num(anonymous.of(F.error)[0], 1), 11, "ERROR_CODE_UNAUTHORIZED");
        assert.equal(anonymous.of(F.welcome).length, 0);

        const token = await issueToken(key, {
          subject: "alice",
          realities: ["lab"],
          publish: { allow: ["orders.>"] },
          subscribe: { allow: ["orders.>"] },
        });
        const alice = await RawTcp.open(node.tcpUrl!);
        await alice.send(pb([[F.hello, [[1, "alice"], [2, 1], [4, token]]]]));
        await alice.wait(F.welcome);
        const inLab = (corr: number, topic: string) =>
          pb([[F.publish, [[1, corr], [2, 1], [3, [[3, topic], [5, "lab"], [
            11,
            enc.encode("x"),
          ]]]]]]);
        await alice.send(inLab(1, "orders.eu.created"));
        const [ack] = await alice.wait(F.ack);
        assert.equal(num(ack, 1), 1);
        await alice.send(inLab(2, "users.created"));
        const [refused] = await alice.wait(F.error);
        assert.equal(num(refused, 1), 12, "ERROR_CODE_FORBIDDEN");
        assert.equal(num(refused, 3), 2, "the refused publish's correlation id");
        alice.close();
      }, { tcpPort: 0, authKey: `${dir}/node.key`, helloTimeoutSeconds: 1 });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
