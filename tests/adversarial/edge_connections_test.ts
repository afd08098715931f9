/**
 * The node had no connection cap and dropped HTTP clients at the fd limit without a
 * response. Beyond `--max-connections` an HTTP client gets a 503 JSON error and a
 * WebSocket a close 1013, counted; the connections held keep being served, and a freed
 * slot is taken again.
 */
import assert from "node:assert/strict";
import { raiseOpenFileLimit } from "../../runtime/node/mod.ts";
import { F, pb } from "../support/pb.ts";
import { metric, withNode } from "../support/node.ts";
import {
  afterHead,
  clientFrame,
  closeCodeOf,
  connect,
  hello,
  jsonBody,
  protoFrames,
  readUntilClosed,
  serverFrames,
  upgradeRequest,
  write,
} from "./edge_support.ts";

Deno.test("edge: connections past --max-connections get a 503 or a close 1013", async () => {
  await withNode(async (node) => {
    const port = node.port;
    const held: Deno.TcpConn[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const conn = await connect(port);
        await write(conn, upgradeRequest(port));
        await write(conn, clientFrame(hello(`held-${i}`)));
        held.push(conn);
      }
      // Each got its welcome: the three slots are taken.
      for (const conn of held) {
        const { bytes } = await readUntilClosed(conn, 300);
        assert.ok(protoFrames(serverFrames(afterHead(bytes))).some(([k]) => k === F.welcome));
      }

      // A fourth WebSocket: accepted, then closed at once with 1013 (try again later).
      const ws = await connect(port);
      await write(ws, upgradeRequest(port));
      const refusedWs = await readUntilClosed(ws, 3000);
      ws.close();
      assert.ok(refusedWs.closed);
      assert.match(refusedWs.text, /^HTTP\/1\.1 101/);
      const close = serverFrames(afterHead(refusedWs.bytes)).find((f) => f.opcode === 0x8)!;
      assert.equal(closeCodeOf(close), 1013);

      // An HTTP client: 503 with a JSON error.
      const http = await connect(port);
      await write(http, `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
      const refusedHttp = await readUntilClosed(http, 3000);
      http.close();
      assert.match(refusedHttp.text, /^HTTP\/1\.1 503/);
      assert.match(refusedHttp.text, /retry-after: 1/i);
      assert.equal(jsonBody(refusedHttp.text).error?.code, "QUOTA_EXCEEDED");
      assert.match(jsonBody(refusedHttp.text).error!.message, /maximum of 3 connections/);

      // The connections held are still served.
      await write(held[0], clientFrame(pb([[F.ping, [[1, 7]]]])));
      const { bytes } = await readUntilClosed(held[0], 300);
      assert.ok(protoFrames(serverFrames(bytes)).some(([k]) => k === F.pong));

      // One leaves: its slot is free again.
      held.pop()!.close();
      const deadline = Date.now() + 3000;
      let status = 0;
      while (Date.now() < deadline) {
        const res = await fetch(`${node.url}/healthz`).catch(() => null);
        status = res?.status ?? 0;
        await res?.body?.cancel();
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(status, 200);
      assert.ok(await metric(node, "arqon_limit_hits_total", 'limit="max_connections"') >= 2);
      assert.equal(await metric(node, "arqon_connections_max"), 3);
    } finally {
      for (const c of held) c.close();
    }
  }, { maxConnections: 3 });
});

Deno.test("edge: the open-file soft limit is raised to the hard one", () => {
  const limit = raiseOpenFileLimit();
  assert.equal(limit.problem, undefined);
  assert.equal(limit.soft, limit.hard === Number.MAX_SAFE_INTEGER ? limit.soft : limit.hard);
  assert.ok(limit.soft >= limit.before);
});
