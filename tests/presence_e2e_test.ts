/**
 * Presence end to end (issue 16 item 3): a real node, raw protobuf WebSocket clients (no
 * SDK), a raw TCP client that vanishes without a close, and `GET
 * /v1/realities/{r}/presence` over fetch. Joins and leaves arrive as pulses on
 * `sys.presence.>` like any other subscription.
 */
import assert from "node:assert/strict";
import type { ArqonNode } from "../mod.ts";
import { F, msg, num, pb, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { RawAgent } from "./support/a2a_peers.ts";
import { SseReader } from "./support/sse_client.ts";
import { metric, withNode } from "./support/node.ts";
import {
  clientFrame,
  connect,
  hello,
  readUntilClosed,
  upgradeRequest,
  write,
} from "./adversarial/edge_support.ts";

type Member = { name: string; kind: string; capabilities: string[]; since_ms: number };
type PresenceEvent = Member & { event: string; reality: string };

const dec = new TextDecoder();

/** A raw client named `name` subscribed to `sys.presence.>` of `reality`. */
async function watcher(node: ArqonNode, name: string, reality = "default"): Promise<RawSocket> {
  const s = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
  s.send(pb([[F.hello, [[1, name], [2, 1]]]]));
  await s.wait(F.welcome);
  s.send(pb([[F.subscribe, [[1, 1], [2, reality], [3, "sys.presence.>"]]]]));
  await s.wait(F.subscribed);
  return s;
}

/** The presence events a watcher received, in order. */
function events(s: RawSocket): PresenceEvent[] {
  return s.of(F.deliver).map((d) => {
    const pulse = msg(d, 2);
    const e = JSON.parse(dec.decode(pulse.get(11)![0] as Uint8Array));
    assert.equal(str(pulse, 3), `sys.presence.${e.event}`);
    assert.equal(str(pulse, 4), "node", "presence pulses come from the node");
    return e;
  });
}

async function presence(
  node: ArqonNode,
  reality: string,
): Promise<{ members: Member[]; omitted: number }> {
  const res = await fetch(`${node.url}/v1/realities/${reality}/presence`);
  assert.equal(res.status, 200);
  return await res.json();
}

const names = (p: { members: Member[] }) => p.members.map((m) => m.name).sort();

Deno.test("presence lists who is in each reality and announces joins and leaves on sys.presence.>", async () => {
  await withNode(async (node) => {
    const watch = await watcher(node, "watcher");
    const before = Date.now();
    const alice = await RawAgent.start(node.wsUrl, "alice", () => [], {
      card: { capabilities: ["chat"], realities: ["default", "lab"] },
      subscribe: false,
    });
    await watch.until(() => events(watch).some((e) => e.name === "alice"), "alice's join");
    const join = events(watch).find((e) => e.name === "alice")!;
    assert.deepEqual(
      {
        event: join.event,
        reality: join.reality,
        kind: join.kind,
        capabilities: join.capabilities,
      },
      { event: "join", reality: "default", kind: "agent", capabilities: ["chat"] },
    );
    assert.ok(join.since_ms >= before - 1000 && join.since_ms <= Date.now());

    const home = await presence(node, "default");
    assert.deepEqual(names(home), ["alice", "watcher"]);
    assert.equal(home.members.find((m) => m.name === "watcher")!.kind, "client");
    assert.deepEqual(names(await presence(node, "lab")), ["alice"]);
    // Publishing in a reality makes a client present there.
    alice.publish("chat.line", { body: { text: "hi" } }, "r2");
    const deadline = Date.now() + 5000;
    while (names(await presence(node, "r2")).length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(names(await presence(node, "r2")), ["alice"]);

    alice.close();
    await watch.until(
      () => events(watch).some((e) => e.name === "alice" && e.event === "leave"),
      "alice's leave",
    );
    assert.deepEqual(names(await presence(node, "default")), ["watcher"]);
    assert.deepEqual(names(await presence(node, "lab")), []);
    assert.deepEqual(names(await presence(node, "r2")), []);
    assert.equal(events(watch).filter((e) => e.name === "alice").length, 2, "one join, one leave");
    await watch.close();
  });
});

Deno.test("a client that vanishes without a close is reported left by the idle watch (silence, a ping, no pong)", async () => {
  await withNode(async (node) => {
    const watch = await watcher(node, "watcher");
    const conn = await connect(node.port);
    try {
      await write(conn, upgradeRequest(node.port));
      await readUntilClosed(conn, 2000, (b) => dec.decode(b).includes("\r\n\r\n"));
      await write(conn, clientFrame(hello("ghost")));
      await watch.until(() => events(watch).some((e) => e.name === "ghost"), "ghost's join");
      assert.ok(names(await presence(node, "default")).includes("ghost"));
      const silentFrom = Date.now();
      // From now on the ghost neither reads nor answers pings; its socket stays open.
      await watch.until(
        () => events(watch).some((e) => e.name === "ghost" && e.event === "leave"),
        "ghost's leave",
        10_000,
      );
      const took = Date.now() - silentFrom;
      // Silence of one idle timeout earns a ping; another without a pong closes: two, plus a sweep.
      assert.ok(took <= 4000, `left after ${took} ms`);
      assert.deepEqual(names(await presence(node, "default")), ["watcher"]);
    } finally {
      conn.close();
      await watch.close();
    }
  }, { idleTimeoutSeconds: 1 });
});

Deno.test("presence is bounded per reality: past --presence-max-members newcomers are counted, not listed", async () => {
  await withNode(async (node) => {
    const a = await RawAgent.start(node.wsUrl, "a", () => [], { subscribe: false });
    const b = await RawAgent.start(node.wsUrl, "b", () => [], { subscribe: false });
    const c = await RawAgent.start(node.wsUrl, "c", () => [], { subscribe: false });
    try {
      const full = await presence(node, "default");
      assert.deepEqual(names(full), ["a", "b"]);
      assert.equal(full.omitted, 1);
      assert.equal(await metric(node, "arqon_limit_hits_total", 'limit="presence_max_members"'), 1);
      // The node serves the one left out, and other realities are bounded on their own.
      c.publish("x", { body: 1 }, "other");
      const deadline = Date.now() + 5000;
      while (names(await presence(node, "other")).length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(names(await presence(node, "other")), ["c"]);
      a.close();
      const d = await RawAgent.start(node.wsUrl, "d", () => [], { subscribe: false });
      const after = Date.now() + 5000;
      while (!names(await presence(node, "default")).includes("d") && Date.now() < after) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(names(await presence(node, "default")), ["b", "d"]);
      d.close();
    } finally {
      b.close();
      c.close();
    }
  }, { presenceMaxMembers: 2 });
});

Deno.test("presence refuses a malformed reality with a typed 400", async () => {
  await withNode(async (node) => {
    const res = await fetch(`${node.url}/v1/realities/Bad%20Reality/presence`);
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.code, "INVALID_ARGUMENT");
  });
});

Deno.test("clients cannot forge presence: sys.presence.* publishes are refused, typed", async () => {
  await withNode(async (node) => {
    const s = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    s.send(pb([[F.hello, [[1, "forger"], [2, 1]]]]));
    await s.wait(F.welcome);
    s.send(
      pb([[F.publish, [[1, 7], [2, 1], [3, [[3, "sys.presence.join"], [11, '{"name":"x"}']]]]]]),
    );
    const [error] = await s.wait(F.error);
    assert.equal(num(error, 1), 12); // FORBIDDEN
    assert.equal(num(error, 3), 7);
    const http = await fetch(`${node.url}/v1/realities/default/topics/sys.presence.leave`, {
      method: "POST",
      body: "{}",
    });
    assert.equal(http.status, 403);
    assert.equal((await http.json()).error.code, "FORBIDDEN");
    // Other sys.* topics are ordinary.
    s.send(pb([[F.publish, [[1, 8], [2, 1], [3, [[3, "sys.metrics"], [11, "1"]]]]]]));
    await s.until(() => s.of(F.ack).some((a) => num(a, 1) === 8), "ack");
    await s.close();
  });
});

Deno.test("presence events are unsequenced and reach only patterns naming sys: a '>' subscriber does not see them", async () => {
  await withNode(async (node) => {
    const everything = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    everything.send(pb([[F.hello, [[1, "all"], [2, 1]]]]));
    await everything.wait(F.welcome);
    everything.send(pb([[F.subscribe, [[1, 1], [3, ">"]]]]));
    await everything.wait(F.subscribed);
    const sys = await watcher(node, "sys-watcher");
    const bob = await RawAgent.start(node.wsUrl, "bob", () => [], { subscribe: false });
    bob.publish("chat.line", { body: "hi" });
    await everything.until(() => everything.of(F.deliver).length >= 1, "the publish");
    await sys.until(() => events(sys).some((e) => e.name === "bob"), "bob's join");
    const delivered = everything.of(F.deliver).map((d) => str(msg(d, 2), 3));
    assert.deepEqual(delivered, ["chat.line"]);
    assert.equal(num(msg(everything.of(F.deliver)[0], 2), 2), 1, "the publish took sequence 1");
    const join = sys.of(F.deliver).map((d) => msg(d, 2)).find((p) =>
      str(p, 3) === "sys.presence.join"
    )!;
    assert.equal(num(join, 2), 0, "presence events take no sequence");
    bob.close();
    await everything.close();
    await sys.close();
  });
});

Deno.test("an SSE client subscribes to presence like to any topic; presence events carry no event id", async () => {
  await withNode(async (node) => {
    const sse = await SseReader.open(
      `${node.url}/v1/realities/default/subscribe?pattern=sys.presence.>`,
    );
    try {
      assert.equal(sse.response.status, 200);
      const carol = await RawAgent.start(node.wsUrl, "carol", () => [], { subscribe: false });
      const e = (await sse.nextOf("pulse"))!;
      assert.equal(e.id, undefined);
      const pulse = JSON.parse(e.data);
      assert.equal(pulse.topic, "sys.presence.join");
      const body = JSON.parse(
        pulse.payload !== undefined
          ? atob(pulse.payload)
          : JSON.stringify(pulse.json ?? pulse.data),
      );
      assert.equal(body.name, "carol");
      carol.close();
      const left = JSON.parse((await sse.nextOf("pulse"))!.data);
      assert.equal(left.topic, "sys.presence.leave");
    } finally {
      sse.close();
    }
  });
});
