import assert from "node:assert/strict";
import { TcpWebSocket } from "./tcp_websocket.ts";

/** An echo server on Deno's own WebSocket implementation: the reference peer. */
function echoServer(idleTimeout?: number) {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "echo.v1", idleTimeout });
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  });
  return { server, url: `ws://127.0.0.1:${server.addr.port}/` };
}

function opened(ws: TcpWebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error((e as ErrorEvent).message));
  });
}

Deno.test("tcp websocket: echoes text and binary of every length class, masked correctly", async () => {
  const { server, url } = echoServer();
  const ws = new TcpWebSocket(url, ["echo.v1"]);
  await opened(ws);
  assert.equal(ws.protocol, "echo.v1");
  const received: (ArrayBuffer | string)[] = [];
  ws.onmessage = (e) => received.push(e.data);
  const sizes = [0, 1, 125, 126, 65535, 65536, 300_000];
  const sent = sizes.map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff));
  for (const s of sent) ws.send(s);
  ws.send("héllo");
  while (received.length < sent.length + 1) await new Promise((r) => setTimeout(r, 5));
  sent.forEach((s, i) =>
    assert.deepEqual(new Uint8Array(received[i] as ArrayBuffer), s, `${s.length} bytes`)
  );
  assert.equal(received.at(-1), "héllo");
  const closed = new Promise<CloseEvent>((r) => ws.onclose = (e) => r(e));
  ws.close(1000, "bye");
  const e = await closed;
  assert.equal(e.code, 1000);
  assert.equal(ws.readyState, TcpWebSocket.CLOSED);
  await server.shutdown();
});

Deno.test("tcp websocket: answers the server's pings, so idle connections stay up", async () => {
  const { server, url } = echoServer(1);
  const ws = new TcpWebSocket(url, ["echo.v1"]);
  await opened(ws);
  let closedCode = 0;
  ws.onclose = (e) => closedCode = e.code;
  await new Promise((r) => setTimeout(r, 2500)); // two idle periods: the server pings
  assert.equal(closedCode, 0, "still open");
  const echoed = new Promise((r) => ws.onmessage = (e) => r(e.data));
  ws.send("still here");
  assert.equal(await echoed, "still here");
  ws.close();
  await server.shutdown();
});

Deno.test("tcp websocket: a refused upgrade or a dead port fails with error and close", async () => {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("no", { status: 400 }),
  );
  for (const url of [`ws://127.0.0.1:${server.addr.port}/`, "ws://127.0.0.1:1/"]) {
    const ws = new TcpWebSocket(url, ["x"]);
    const events: string[] = [];
    const done = new Promise<void>((resolve) => {
      ws.onerror = () => events.push("error");
      ws.onclose = (e) => {
        events.push(`close ${e.code}`);
        resolve();
      };
    });
    await done;
    assert.deepEqual(events, ["error", "close 1006"], url);
  }
  await server.shutdown();
});
