/**
 * A WebSocket that never said hello stayed open with no deadline (≥ 40 s observed).
 * `--hello-timeout` closes it: an error frame (TIMEOUT), then close 1008, counted.
 */
import assert from "node:assert/strict";
import { metric, withNode } from "../support/node.ts";
import {
  afterHead,
  clientFrame,
  closeCodeOf,
  connect,
  errorOf,
  hello,
  protoFrames,
  readUntilClosed,
  serverFrames,
  upgradeRequest,
  write,
} from "./edge_support.ts";
import { F, pb } from "../support/pb.ts";

const TIMEOUT = 10;

Deno.test("edge: a WebSocket that never says hello is closed after --hello-timeout", async () => {
  await withNode(async (node) => {
    const port = node.port;
    const silent = await connect(port);
    const polite = await connect(port);
    try {
      await write(silent, upgradeRequest(port));
      await write(polite, upgradeRequest(port));
      await write(polite, clientFrame(hello("polite")));
      const started = Date.now();
      const { bytes, closed } = await readUntilClosed(silent, 5000);
      const elapsed = Date.now() - started;
      assert.ok(closed, "the silent connection was closed");
      assert.ok(elapsed < 4000, `closed after ${elapsed} ms`);
      const list = serverFrames(afterHead(bytes));
      const [kind, error] = protoFrames(list).find(([k]) => k === F.error)!;
      assert.equal(kind, F.error);
      assert.equal(errorOf(error).code, TIMEOUT);
      assert.match(errorOf(error).message, /no hello within 1 s/);
      const close = list.find((f) => f.opcode === 0x8)!;
      assert.equal(closeCodeOf(close), 1008);

      // The client that said hello is still served past the deadline.
      await write(polite, clientFrame(pb([[F.ping, [[1, 42]]]])));
      const answer = await readUntilClosed(polite, 500);
      assert.equal(answer.closed, false);
      const kinds = protoFrames(serverFrames(afterHead(answer.bytes))).map(([k]) => k);
      assert.ok(kinds.includes(F.welcome) && kinds.includes(F.pong), `got ${kinds}`);
      assert.equal(await metric(node, "arqon_limit_hits_total", 'limit="hello_timeout"'), 1);
    } finally {
      silent.close();
      polite.close();
    }
  }, { helloTimeoutSeconds: 1 });
});
