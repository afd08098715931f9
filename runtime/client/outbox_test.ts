/** Outbound batching per turn, against a stand-in socket. */
import assert from "node:assert/strict";
import { decodeFrame, encodeFrame } from "../protocol/mod.ts";
import { Outbox } from "./outbox.ts";

/** The `WebSocket` members the outbox uses. */
function fakeSocket(readyState: number = WebSocket.OPEN) {
  const sent: Uint8Array[] = [];
  const ws = { readyState, send: (m: Uint8Array) => sent.push(m) };
  return { ws: ws as unknown as WebSocket, sent };
}

const ping = (nonce: number) => encodeFrame({ ping: { nonce } });

Deno.test("outbox: frames of one turn leave as one batch message", async () => {
  const { ws, sent } = fakeSocket();
  const out = new Outbox();
  out.socket = ws;
  out.enqueue(ping(1));
  out.enqueue(ping(2));
  out.enqueue(ping(3));
  assert.equal(sent.length, 0);
  assert.ok(out.bytes > 0);
  await Promise.resolve();
  assert.equal(sent.length, 1);
  assert.equal(out.bytes, 0);
  const frame = decodeFrame(sent[0]);
  assert.equal(frame.kind, "batch");
  assert.deepEqual(frame.batch!.frames!.map((f) => f.ping!.nonce), [1, 2, 3]);
});

Deno.test("outbox: a single frame is sent as is", async () => {
  const { ws, sent } = fakeSocket();
  const out = new Outbox();
  out.socket = ws;
  out.enqueue(ping(7));
  await Promise.resolve();
  assert.equal(decodeFrame(sent[0]).kind, "ping");
});

Deno.test("outbox: reaching maxBatchBytes flushes at once", () => {
  const { ws, sent } = fakeSocket();
  const frame = ping(1);
  const out = new Outbox(frame.length * 2);
  out.socket = ws;
  out.enqueue(frame);
  assert.equal(sent.length, 0);
  out.enqueue(ping(2));
  assert.equal(sent.length, 1);
});

Deno.test("outbox: nothing is sent on a socket that is not open; clear forgets", async () => {
  const { ws, sent } = fakeSocket(WebSocket.CLOSED);
  const out = new Outbox();
  out.socket = ws;
  out.enqueue(ping(1));
  await Promise.resolve();
  assert.equal(sent.length, 0);
  out.enqueue(ping(2));
  out.clear();
  assert.equal(out.bytes, 0);
});
