/**
 * `GET /v1/connections`, the admin view of connections and subscriptions: a real node with
 * authentication on, a WebSocket client speaking JSON frames by hand (not our SDK) whose
 * flow-controlled subscription never grants credit, so its queue fills and drops; an SSE
 * stream read with fetch. The view shows each with its queue depth and drops; other roles,
 * no token and a bad `limit` get typed errors; `limit` cuts the list and says so.
 */
import assert from "node:assert/strict";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { sleep, withNode } from "./support/node.ts";

interface SubView {
  reality: string;
  pattern: string;
  queued: number;
  dropped: number;
  maxMessages: number;
  credits: number | null;
}
interface ConnView {
  id: string;
  transport: string;
  subject?: string;
  queued: number;
  dropped: number;
  subscriptions: SubView[];
}
interface Listing {
  connections: ConnView[];
  total: number;
  truncated: boolean;
}

/** A WebSocket client of the JSON subprotocol; resolves once `hello` is welcomed. */
async function jsonClient(wsUrl: string, token: string): Promise<{
  ws: WebSocket;
  frames: Record<string, Record<string, unknown>>[];
}> {
  const ws = new WebSocket(wsUrl, "arqon.v1.json");
  const frames: Record<string, Record<string, unknown>>[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.onerror = () => reject(new Error("websocket error"));
    ws.onopen = () =>
      ws.send(JSON.stringify({ hello: { clientName: "probe", protocolVersion: 1, token } }));
    ws.onmessage = (m) => {
      const f = JSON.parse(m.data);
      frames.push(f);
      if (f.welcome) resolve();
      if (f.error) reject(new Error(JSON.stringify(f.error)));
    };
  });
  return { ws, frames };
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

Deno.test("connections: admin sees each subscription's queue depth and drops; others are refused", async () => {
  const dir = await Deno.makeTempDir();
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  const admin = await issueToken(key, { subject: "root", roles: ["admin"] });
  const user = await issueToken(key, {
    subject: "bob",
    realities: ["*"],
    publish: { allow: [">"] },
    subscribe: { allow: [">"] },
  });
  try {
    await withNode(async (node) => {
      const get = (query = "", token?: string) =>
        fetch(`${node.url}/v1/connections${query}`, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });

      const slow = await jsonClient(node.wsUrl, user);
      slow.ws.send(JSON.stringify({
        subscribe: {
          subscriptionId: 7,
          realityId: "lab",
          pattern: "load.>",
          maxInFlight: 1,
          maxQueueMessages: 3,
          overflow: "OVERFLOW_POLICY_DROP_OLDEST",
          correlationId: "1",
        },
      }));
      await until("subscribed", () => slow.frames.some((f) => f.subscribed));
      const sse = await fetch(`${node.url}/v1/realities/lab/subscribe?pattern=other.*`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      assert.equal(sse.status, 200);

      // 10 publishes: one goes out (the only credit), 3 wait, 6 are dropped (drop-oldest).
      for (let i = 0; i < 10; i++) {
        const r = await fetch(`${node.url}/v1/realities/lab/topics/load.x`, {
          method: "POST",
          headers: { authorization: `Bearer ${user}` },
          body: `p${i}`,
        });
        assert.equal(r.status, 200, await r.text());
      }

      const res = await get("", admin);
      assert.equal(res.status, 200);
      const body = await res.json() as Listing;
      assert.equal(body.truncated, false);
      assert.equal(body.total, body.connections.length);
      const ws = body.connections.filter((c) => c.transport === "ws");
      assert.equal(ws.length, 1, JSON.stringify(body));
      assert.equal(ws[0].subject, "bob");
      assert.equal(ws[0].subscriptions.length, 1);
      const sub = ws[0].subscriptions[0];
      assert.deepEqual(
        [sub.reality, sub.pattern, sub.queued, sub.dropped, sub.maxMessages, sub.credits],
        ["lab", "load.>", 3, 6, 3, 0],
      );
      assert.equal(ws[0].queued, 3);
      assert.equal(ws[0].dropped, 6);
      const streams = body.connections.filter((c) => c.transport === "sse");
      assert.equal(streams.length, 1);
      assert.deepEqual(streams[0].subscriptions.map((s) => s.pattern), ["other.*"]);

      // Granting credit drains the queue: the view follows.
      slow.ws.send(JSON.stringify({ credit: { subscriptionId: 7, count: 100 } }));
      await until("queue drained", async () => {
        const b = await (await get("", admin)).json() as Listing;
        const s = b.connections.find((c) => c.transport === "ws")!.subscriptions[0];
        return s.queued === 0 && s.dropped === 6;
      });

      // The limit cuts the list and says so; past its bounds it is a typed 400.
      const one = await (await get("?limit=1", admin)).json() as Listing;
      assert.equal(one.connections.length, 1);
      assert.equal(one.total, 2);
      assert.equal(one.truncated, true);
      for (const bad of ["0", "10001", "-1", "1.5", "x"]) {
        const r = await get(`?limit=${bad}`, admin);
        assert.equal(r.status, 400, bad);
        assert.equal((await r.json()).error.code, "INVALID_ARGUMENT");
      }

      // Only admins: a user token is forbidden, no token is unauthenticated.
      const forbidden = await get("", user);
      assert.equal(forbidden.status, 403);
      assert.equal((await forbidden.json()).error.code, "FORBIDDEN");
      const anonymous = await get();
      assert.equal(anonymous.status, 401);
      assert.equal((await anonymous.json()).error.code, "UNAUTHORIZED");

      // A client that leaves is gone from the view; the node keeps serving.
      slow.ws.close();
      await sse.body?.cancel();
      await until("connections gone", async () => {
        const b = await (await get("", admin)).json() as Listing;
        return b.connections.every((c) => c.transport !== "ws" && c.transport !== "sse");
      });
    }, { memory: true, authKey: `${dir}/node.key` });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
