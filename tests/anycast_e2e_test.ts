/**
 * Semantic anycast and semantic trace end to end (issue 16 items 4, 6, 7): a real node on
 * an ephemeral port; agents subscribe with capability embeddings from hand-built protobuf
 * frames, the JSON subprotocol, and a card; anycast publishes and requests come from raw
 * frames, JSON and HTTP (fetch). Deliveries name the matching embedding and score; no match
 * is NO_RESPONDERS; bad vectors and k are INVALID_ARGUMENT; bounds are driven past; the
 * semantic trace is read in deliveries and in history.
 */
import assert from "node:assert/strict";
import { F, msg, num, pb, type PbField, type PbMessage, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { metric, withNode } from "./support/node.ts";
import { ArqonClient, BusError } from "../mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A packed `repeated float`. */
const floats = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const hello = (name: string, card?: string) =>
  pb([[F.hello, [[1, name], [2, 1], ...(card ? [[33, card] as PbField] : [])]]]);
/** Subscribe with `anycast {vectors, min_score}` (min_score as a float32, field 2, wire 5). */
function anycastSubscribe(id: number, pattern: string, vectors: number[][], minScore = 0) {
  const body: PbField[] = vectors.map((v) => [1, [[1, floats(v)]]] as PbField);
  const frame = pb([[F.subscribe, [[1, id], [3, pattern], [12, id], [14, body]]]]);
  if (minScore === 0) return frame;
  // pb() writes varints and length fields only: append the float by hand.
  const fixed = new Uint8Array([0x15, ...new Uint8Array(Float32Array.of(minScore).buffer)]);
  return pb([[F.subscribe, [[1, id], [3, pattern], [12, id], [14, concat(pb(body), fixed)]]]]);
}
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
const anycastPublish = (corr: number, topic: string, vector: number[], k = 0, reality = "") =>
  pb([[F.publish, [
    [1, corr],
    [2, 1],
    [3, [[3, topic], ...(reality ? [[5, reality] as PbField] : []), [11, enc.encode("job")]]],
    [4, [[1, floats(vector)], ...(k ? [[2, k] as PbField] : [])]],
  ]]]);

async function agent(url: string, name: string, card?: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, "arqon.v1.proto");
  s.send(hello(name, card));
  await s.wait(F.welcome);
  return s;
}

/** The answer (ack or error) to correlation `corr`. */
async function answer(s: RawSocket, corr: number): Promise<[number, PbMessage]> {
  let found: [number, PbMessage] | undefined;
  await s.until(() => {
    found = s.received.find(([k, m]) =>
      (k === F.ack && num(m, 1) === corr) || (k === F.error && num(m, 3) === corr)
    );
    return found !== undefined;
  }, `answer to ${corr}`);
  return found!;
}

async function subscribed(s: RawSocket, frame: Uint8Array, id: number): Promise<void> {
  const from = s.received.length;
  s.send(frame);
  await s.until(
    () =>
      s.received.slice(from).some(([k, m]) =>
        (k === F.subscribed && num(m, 2) === id) || k === F.error
      ),
    `subscribed ${id}`,
  );
  const err = s.received.slice(from).find(([k]) => k === F.error);
  if (err) throw new Error(`subscribe refused: ${str(err[1], 2)}`);
}

const deliveries = (s: RawSocket) => s.received.filter(([k]) => k === F.deliver).map(([, m]) => m);
const f32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
const errorCode = (m: PbMessage) => num(m, 1);
const INVALID_ARGUMENT = 19;
const NO_RESPONDERS = 9;
const QUOTA_EXCEEDED = 21;

Deno.test("anycast e2e: the nearest subscriber gets the pulse, with its embedding and score", async () => {
  await withNode(async (node) => {
    const billing = await agent(node.wsUrl, "billing");
    const search = await agent(node.wsUrl, "search");
    const plain = await agent(node.wsUrl, "plain");
    await subscribed(billing, anycastSubscribe(1, "agents.task", [[1, 0, 0, 0], [0, 1, 0, 0]]), 1);
    await subscribed(search, anycastSubscribe(1, "agents.task", [[0, 0, 1, 0]]), 1);
    await subscribed(plain, pb([[F.subscribe, [[1, 1], [3, "agents.task"], [12, 1]]]]), 1);
    const caller = await agent(node.wsUrl, "caller");
    const sent = 20;
    for (let i = 0; i < sent; i++) {
      caller.send(anycastPublish(100 + i, "agents.task", [0.1, 0.9, 0, 0]));
    }
    for (let i = 0; i < sent; i++) assert.equal((await answer(caller, 100 + i))[0], F.ack);
    await billing.until(() => deliveries(billing).length === sent, "billing deliveries");
    // Only the nearest got them: not the other agent, not the plain subscriber.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(deliveries(search).length, 0);
    assert.equal(deliveries(plain).length, 0);
    const d = deliveries(billing)[0];
    const match = msg(d, 3);
    assert.equal(num(match, 1), 1, "the second embedding matched");
    const score = f32(match.get(2)![0] as Uint8Array);
    assert.ok(Math.abs(score - 0.9 / Math.hypot(0.1, 0.9)) < 1e-5, `score ${score}`);
    // Semantic trace: the publish topic.
    const pulse = msg(d, 2);
    assert.deepEqual((pulse.get(18) ?? []).map((b) => dec.decode(b as Uint8Array)), [
      "agents.task",
    ]);
    // k = 2 reaches both anycast agents, never the plain subscriber.
    caller.send(anycastPublish(200, "agents.task", [0.5, 0.5, 0.5, 0], 2));
    assert.equal((await answer(caller, 200))[0], F.ack);
    await search.until(() => deliveries(search).length === 1, "search delivery");
    await billing.until(() => deliveries(billing).length === sent + 1, "billing k=2");
    assert.equal(deliveries(plain).length, 0);
    // A plain publish still reaches every subscriber of the topic.
    caller.send(pb([[F.publish, [[1, 300], [2, 1], [3, [[3, "agents.task"]]]]]]));
    await answer(caller, 300);
    await plain.until(() => deliveries(plain).length === 1, "plain delivery");
    await Promise.all([billing, search, plain, caller].map((s) => s.close()));
  }, { anycastDim: 4 });
});

Deno.test("anycast e2e: ties round robin; a subscriber that leaves is never chosen again", async () => {
  await withNode(async (node) => {
    const agents = await Promise.all([0, 1, 2].map((i) => agent(node.wsUrl, `twin${i}`)));
    for (const a of agents) await subscribed(a, anycastSubscribe(1, "work.do", [[1, 1]]), 1);
    const caller = await agent(node.wsUrl, "caller");
    for (let i = 0; i < 9; i++) caller.send(anycastPublish(i + 1, "work.do", [1, 0]));
    for (let i = 0; i < 9; i++) assert.equal((await answer(caller, i + 1))[0], F.ack);
    for (const a of agents) await a.until(() => deliveries(a).length === 3, "3 each");
    await agents[0].close();
    // Give the node the close; then 6 more pulses: only the two left share them.
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 6; i++) caller.send(anycastPublish(50 + i, "work.do", [1, 0]));
    for (let i = 0; i < 6; i++) assert.equal((await answer(caller, 50 + i))[0], F.ack);
    await agents[1].until(() => deliveries(agents[1]).length === 6, "twin1 6");
    await agents[2].until(() => deliveries(agents[2]).length === 6, "twin2 6");
    await Promise.all([agents[1], agents[2], caller].map((s) => s.close()));
  }, { anycastDim: 2 });
});

Deno.test("anycast e2e: no match is NO_RESPONDERS; bad vectors and k are INVALID_ARGUMENT", async () => {
  await withNode(async (node) => {
    const a = await agent(node.wsUrl, "picky");
    await subscribed(a, anycastSubscribe(1, "q.ask", [[1, 0, 0]], 0.9), 1);
    const c = await agent(node.wsUrl, "caller");
    const cases: [number[], number, number][] = [
      [[0, 1, 0], 0, NO_RESPONDERS], // orthogonal: under min_score 0.9
      [[1, 0], 0, INVALID_ARGUMENT], // wrong dimension
      [[NaN, 1, 0], 0, INVALID_ARGUMENT],
      [[Infinity, 1, 0], 0, INVALID_ARGUMENT],
      [[0, 0, 0], 0, INVALID_ARGUMENT], // zero vector
      [[1, 0, 0], 33, INVALID_ARGUMENT], // k out of range
    ];
    let corr = 1;
    for (const [vector, k, code] of cases) {
      c.send(anycastPublish(corr, "q.ask", vector, k));
      const [kind, m] = await answer(c, corr++);
      assert.equal(kind, F.error, `${vector} k=${k}`);
      assert.equal(errorCode(m), code, `${vector} k=${k}: ${str(m, 2)}`);
    }
    // Bad subscribe vectors: typed, and the connection keeps serving.
    a.send(anycastSubscribe(2, "q.ask", [[0, 0, 0]]));
    a.send(anycastSubscribe(3, "q.ask", [[1, 2]]));
    await a.until(() => a.received.filter(([k]) => k === F.error).length === 2, "2 errors");
    for (const [, m] of a.received.filter(([k]) => k === F.error)) {
      assert.equal(errorCode(m), INVALID_ARGUMENT, str(m, 2));
    }
    // The good path still works after all of it.
    c.send(anycastPublish(corr, "q.ask", [1, 0.1, 0]));
    assert.equal((await answer(c, corr++))[0], F.ack);
    await a.until(() => deliveries(a).length === 1, "delivery");
    await Promise.all([a, c].map((s) => s.close()));
  }, { anycastDim: 3 });
});

Deno.test("anycast e2e: per-subscription and per-reality bounds are typed, others keep working", async () => {
  await withNode(async (node) => {
    const a = await agent(node.wsUrl, "greedy");
    const five = [[1, 0], [0, 1], [1, 1], [1, 2], [2, 1]];
    a.send(anycastSubscribe(1, "b.x", five));
    await a.until(() => a.received.some(([k]) => k === F.error), "per-sub error");
    assert.equal(errorCode(a.received.find(([k]) => k === F.error)![1]), INVALID_ARGUMENT);
    // 4 + 4 fill the reality's 8; the next is QUOTA_EXCEEDED.
    await subscribed(a, anycastSubscribe(2, "b.x", five.slice(0, 4)), 2);
    const b = await agent(node.wsUrl, "other");
    await subscribed(b, anycastSubscribe(1, "b.x", five.slice(0, 4)), 1);
    b.send(anycastSubscribe(2, "b.x", [[1, 0]]));
    await b.until(() => b.received.some(([k]) => k === F.error), "quota error");
    assert.equal(errorCode(b.received.find(([k]) => k === F.error)![1]), QUOTA_EXCEEDED);
    assert.equal(
      await metric(node, "arqon_limit_hits_total", 'limit="anycast_max_per_reality"'),
      1,
    );
    assert.equal(
      await metric(node, "arqon_limit_hits_total", 'limit="anycast_max_per_subscription"'),
      1,
    );
    // Leaving frees room at once.
    a.send(pb([[F.unsubscribe, [[1, 2]]]]));
    await new Promise((r) => setTimeout(r, 100));
    const before = b.received.length;
    b.send(anycastSubscribe(3, "b.x", [[1, 0]]));
    await b.until(() => b.received.slice(before).some(([k]) => k === F.subscribed), "room again");
    await Promise.all([a, b].map((s) => s.close()));
  }, { anycastDim: 2, anycastMaxPerSubscription: 4, anycastMaxPerReality: 8 });
});

Deno.test("anycast e2e: card embeddings, reality's own dimension, JSON and HTTP publishers", async () => {
  await withNode(async (node) => {
    // The reality declares its dimension in its settings (limits.anycastDim).
    const created = await fetch(`${node.url}/v1/realities`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "emb", limits: { anycastDim: 3 } }),
    });
    assert.equal(created.status, 201, await created.text());
    const card = JSON.stringify({
      capabilities: ["translate"],
      anycast: { vectors: [[0, 0, 1]], min_score: 0.5 },
    });
    const translator = await agent(node.wsUrl, "translator", card);
    // No anycast field: the card's embeddings make it a target.
    await subscribed(
      translator,
      pb([[F.subscribe, [[1, 1], [2, "emb"], [3, "jobs.>"], [12, 1]]]]),
      1,
    );
    // A JSON client publishes with anycast.
    const json = await RawSocket.open(node.wsUrl, "arqon.v1.json");
    json.send(JSON.stringify({ hello: { clientName: "j", protocolVersion: 1 } }));
    await json.until(() => json.json.some((f) => "welcome" in f), "welcome");
    json.send(JSON.stringify({
      publish: {
        correlationId: "7",
        ack: "ACK_MODE_RECEIVED",
        pulse: { topic: "jobs.fr", realityId: "emb", payload: btoa("bonjour") },
        anycast: { vector: [0, 0.2, 1], k: 1 },
      },
    }));
    await json.until(() => json.json.some((f) => "ack" in f || "error" in f), "json ack");
    assert.ok(json.json.some((f) => "ack" in f), JSON.stringify(json.json));
    await translator.until(() => deliveries(translator).length === 1, "card delivery");
    assert.equal(num(msg(deliveries(translator)[0], 3), 1), 0);
    // HTTP publish with the anycast header; a bad header is a typed 400.
    const post = (header: string) =>
      fetch(`${node.url}/v1/realities/emb/topics/jobs.de`, {
        method: "POST",
        headers: { "x-arqon-anycast": header },
        body: "hallo",
      });
    const ok = await post(JSON.stringify({ vector: [0, 0, 1], k: 1 }));
    assert.equal(ok.status, 200, await ok.text());
    await translator.until(() => deliveries(translator).length === 2, "http delivery");
    const far = await post(JSON.stringify({ vector: [1, 0, 0] }));
    assert.ok(far.status >= 400 && far.status < 600);
    assert.equal((await far.json()).error.code, "NO_RESPONDERS");
    const bad = await post(JSON.stringify({ vector: [0, 0] }));
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, "INVALID_ARGUMENT");
    const notJson = await post("{");
    assert.equal(notJson.status, 400);
    await notJson.body?.cancel();
    // A reality without a declared dimension (this node has no --anycast-dim) refuses.
    const c = await agent(node.wsUrl, "caller");
    c.send(anycastPublish(1, "jobs.fr", [1, 0, 0], 1));
    const [kind, m] = await answer(c, 1);
    assert.equal(kind, F.error);
    assert.equal(errorCode(m), INVALID_ARGUMENT, str(m, 2));
    await c.close();
    await Promise.all([translator, json].map((s) => s.close()));
  });
});

Deno.test("anycast e2e: a request reaches the nearest responder and gets its reply", async () => {
  await withNode(async (node) => {
    const math = await agent(node.wsUrl, "math");
    const poet = await agent(node.wsUrl, "poet");
    await subscribed(math, anycastSubscribe(1, "ask.any", [[1, 0]]), 1);
    await subscribed(poet, anycastSubscribe(1, "ask.any", [[0, 1]]), 1);
    const c = await agent(node.wsUrl, "caller");
    c.send(pb([[F.request, [
      [1, 5],
      [2, [[3, "ask.any"], [11, enc.encode("2+2")]]],
      [3, 3000],
      [5, [[1, floats([0.9, 0.1])]]],
    ]]]));
    await math.until(() => deliveries(math).length === 1, "math gets the request");
    const replyTo = str(msg(deliveries(math)[0], 2), 16);
    math.send(pb([[F.publish, [[3, [[3, replyTo], [11, enc.encode("4")]]]]]]));
    await c.until(() => c.received.some(([k]) => k === F.reply), "reply");
    const reply = c.received.find(([k]) => k === F.reply)![1];
    assert.equal(dec.decode(msg(reply, 2).get(11)![0] as Uint8Array), "4");
    assert.equal(deliveries(poet).length, 0);
    await Promise.all([math, poet, c].map((s) => s.close()));
  }, { anycastDim: 2 });
});

Deno.test("semtrace e2e: a client continues a chain; history keeps it; long chains are cut", async () => {
  await withNode(async (node) => {
    await fetch(`${node.url}/v1/realities`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "tr", retention: [{ pattern: ">" }] }),
    }).then((r) => r.body?.cancel());
    const sub = await agent(node.wsUrl, "reader");
    await subscribed(sub, pb([[F.subscribe, [[1, 1], [2, "tr"], [3, "t.>"], [12, 1]]]]), 1);
    const pub = await agent(node.wsUrl, "writer");
    const chain = ["a.one", "operator:x"];
    pub.send(pb([[F.publish, [[1, 1], [2, 1], [3, [
      [3, "t.two"],
      [5, "tr"],
      ...chain.map((e) => [18, e] as PbField),
    ]]]]]));
    await answer(pub, 1);
    const long = Array.from({ length: 20 }, (_, i) => `hop.${i}`);
    pub.send(pb([[F.publish, [[1, 2], [2, 1], [3, [
      [3, "t.three"],
      [5, "tr"],
      ...long.map((e) => [18, e] as PbField),
    ]]]]]));
    await answer(pub, 2);
    await sub.until(() => deliveries(sub).length === 2, "2 deliveries");
    const traceOf = (m: PbMessage) => (m.get(18) ?? []).map((b) => dec.decode(b as Uint8Array));
    assert.deepEqual(traceOf(msg(deliveries(sub)[0], 2)), ["a.one", "operator:x", "t.two"]);
    const cut = traceOf(msg(deliveries(sub)[1], 2));
    assert.equal(cut.length, 16);
    assert.deepEqual(cut.slice(-2), ["hop.19", "t.three"]);
    // History (HTTP JSON) shows the same chains.
    const res = await fetch(`${node.url}/v1/realities/tr/history?from_sequence=1`);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.ok(text.includes('"semtrace":["a.one","operator:x","t.two"]'), text.slice(0, 400));
    await Promise.all([sub, pub].map((s) => s.close()));
  });
});

Deno.test("anycast e2e: our client subscribes, publishes and requests with anycast", async () => {
  await withNode(async (node) => {
    const a = await ArqonClient.connect(node.wsUrl, { name: "cat-expert" });
    const b = await ArqonClient.connect(node.wsUrl, { name: "dog-expert" });
    const caller = await ArqonClient.connect(node.wsUrl, { name: "asker" });
    try {
      const cats = a.subscribe("pets.ask", { anycast: { vectors: [[1, 0, 0]], minScore: 0.3 } });
      const dogs = b.subscribe("pets.ask", {
        anycast: { vectors: [[0, 1, 0], [0, 0, 1]], minScore: 0.3 },
      });
      await Promise.all([cats.ready, dogs.ready]);
      const ack = await caller.publish("pets.ask", "why bark", {
        anycast: { vector: [0, 0.2, 1] },
      });
      assert.ok(ack && ack.sequence >= 1);
      const { value } = await dogs.next();
      const got = value as typeof value & { anycastMatch?: { embedding?: number; score?: number } };
      assert.equal(new TextDecoder().decode(got.payload!), "why bark");
      assert.equal(got.anycastMatch?.embedding, 1);
      assert.ok(Math.abs(got.anycastMatch!.score! - 1 / Math.hypot(0.2, 1)) < 1e-5);
      assert.deepEqual(got.semtrace, ["pets.ask"]);
      // Requests: the nearest answers; no match is NO_RESPONDERS.
      const answering = (async () => {
        const { value: req } = await cats.next();
        await a.reply(req!, "purr");
      })();
      const reply = await caller.request("pets.ask", "why purr", {
        anycast: { vector: [1, 0.1, 0] },
        timeoutMs: 3000,
      });
      await answering;
      assert.equal(new TextDecoder().decode(reply.payload!), "purr");
      const refused = await caller.publish("pets.ask", "?", {
        anycast: { vector: [-1, -1, -1] },
      }).then(() => undefined, (e: BusError) => e);
      assert.ok(refused instanceof BusError);
      assert.equal(refused.code, "NO_RESPONDERS");
    } finally {
      await Promise.all([a.close(), b.close(), caller.close()]);
    }
  }, { anycastDim: 3 });
});
