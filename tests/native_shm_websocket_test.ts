/**
 * `ShmWebSocket`: the WebSocket API over a node's shm listener. The same hello, subscribe
 * and publish exchange a WebSocket client performs, through `onopen`/`onmessage`/`onclose`.
 */
import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, type IFrame, startNode } from "../mod.ts";
import { ShmWebSocket } from "../runtime/transport/mod.ts";

Deno.test("shm websocket: hello, subscribe, publish and close through the WebSocket API", async () => {
  const name = `arqon-ws-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const node = await startNode({
    port: 0,
    shm: name,
    shmSlots: 4,
    shmRingBytes: 1 << 20,
    log: "quiet",
    memory: true,
  });
  try {
    const ws = new ShmWebSocket(`shm://${name}`, ["arqon.v1.proto"]);
    assert.equal(ws.readyState, ShmWebSocket.CONNECTING);
    const frames: IFrame[] = [];
    const flat = (f: IFrame): IFrame[] => f.batch ? (f.batch.frames ?? []).flatMap(flat) : [f];
    const closed = Promise.withResolvers<CloseEvent>();
    const has = Promise.withResolvers<void>();
    let want = (_: IFrame[]) => false;
    ws.onmessage = (e) => {
      assert.ok(e.data instanceof ArrayBuffer);
      frames.push(...flat(decodeFrame(new Uint8Array(e.data))));
      if (want(frames)) has.resolve();
    };
    ws.addEventListener("close", (e) => closed.resolve(e as CloseEvent));
    await new Promise<void>((r) => (ws.onopen = () => r()));
    assert.equal(ws.readyState, ShmWebSocket.OPEN);
    assert.equal(ws.protocol, "arqon.v1.proto");

    want = (fs) => fs.filter((f) => f.deliver).length === 100;
    ws.send(encodeFrame({ hello: { clientName: "shm-ws", protocolVersion: 1 } }));
    ws.send(
      encodeFrame({ subscribe: { subscriptionId: 7, pattern: "ws.shm.>", correlationId: 1 } }),
    );
    for (let i = 0; i < 100; i++) {
      const payload = new Uint8Array([i]);
      ws.send(encodeFrame({ publish: { pulse: { topic: "ws.shm.t", payload } } }));
    }
    await has.promise;
    assert.equal(frames[0].welcome?.sessionId !== undefined, true, "welcome comes first");
    assert.equal(frames[1].subscribed?.subscriptionId, 7);
    const delivered = frames.filter((f) => f.deliver).map((f) => f.deliver!.pulse!);
    assert.deepStrictEqual(delivered.map((p) => p.payload![0]), [...Array(100).keys()]);
    assert.ok(delivered.every((p) => p.producerId === "shm-ws"));

    ws.close(1000, "done");
    const ev = await closed.promise;
    assert.equal(ev.code, 1000);
    assert.equal(ev.wasClean, true);
    assert.equal(ws.readyState, ShmWebSocket.CLOSED);
  } finally {
    await node.shutdown();
  }
});

Deno.test("shm websocket: an unknown name fails with error and close events", async () => {
  const ws = new ShmWebSocket(`shm://arqon-absent-${crypto.randomUUID()}`);
  let errored = false;
  ws.onerror = () => errored = true;
  const ev = await new Promise<CloseEvent>((r) => (ws.onclose = r));
  assert.equal(errored, true);
  assert.equal(ev.code, 1006);
  assert.match(ev.reason, /No such file/);
});

Deno.test("shm websocket: ArqonClient in a second process publishes and subscribes over shm", async () => {
  const name = `arqon-cl-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const node = await startNode({
    port: 0,
    shm: name,
    shmSlots: 4,
    shmRingBytes: 1 << 20,
    log: "quiet",
    memory: true,
  });
  try {
    const script = new URL(
      "../runtime/transport/testdata/arqon_client_over_shm.ts",
      import.meta.url,
    );
    const config = new URL("../deno.json", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", config, script.pathname, name, "2000"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(
      out.code,
      0,
      `client process failed:\n${text}${new TextDecoder().decode(out.stderr)}`,
    );
    assert.match(text, /done acked=2000 received=2000 last_sequence=2000/);
  } finally {
    await node.shutdown();
  }
});
