/**
 * Streamed requests end to end on a real node: hand-built protobuf frames and JSON text
 * frames over raw WebSockets (no SDK), SSE over fetch, then the TypeScript client. Covers
 * the order and finality of replies, the timeout between replies, the stream bounds driven
 * past, typed error replies, and forged replies from clients the request never reached.
 */
import assert from "node:assert/strict";
import { ArqonClient } from "../runtime/client/mod.ts";
import { F, msg, num, pb, type PbField, type PbMessage, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { SseReader } from "./support/sse_client.ts";
import { metric, sleep, withNode } from "./support/node.ts";

const PROTO = "arqon.v1.proto";
const enc = new TextEncoder();
const dec = new TextDecoder();

const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);
const subscribe = (id: number, pattern: string, corr: number) =>
  pb([[F.subscribe, [[1, id], [3, pattern], [12, corr]]]]);
const header = (k: string, v: string): PbField => [9, [[1, k], [2, v]]];
const publish = (topic: string, payload: string, extra: PbField[] = []) =>
  pb([[F.publish, [[3, [[3, topic], [11, enc.encode(payload)], ...extra]]]]]);
const request = (corr: number, topic: string, payload: string, timeoutMs = 0, stream = true) =>
  pb([[F.request, [
    [1, corr],
    [2, [[3, topic], [11, enc.encode(payload)]]],
    [3, timeoutMs],
    ...(stream ? [[4, 1] as PbField] : []),
  ]]]);

async function open(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, PROTO);
  s.send(hello(name));
  await s.wait(F.welcome);
  return s;
}

/** A responder subscribed to `topic`; resolves with it and the requests it receives. */
async function responder(url: string, topic: string): Promise<RawSocket> {
  const s = await open(url, "responder");
  s.send(subscribe(1, topic, 1));
  await s.wait(F.subscribed);
  return s;
}

/** The inbox (reply_to, field 16) of the `n`th request delivered to `s`. */
async function inboxOf(s: RawSocket, n = 1): Promise<string> {
  const deliveries = await s.wait(F.deliver, n);
  return str(msg(deliveries[n - 1], 2), 16);
}

const replies = (s: RawSocket, corr: number): PbMessage[] =>
  s.of(F.reply).filter((r) => num(r, 1) === corr);
const errors = (s: RawSocket, corr: number): PbMessage[] =>
  s.of(F.error).filter((e) => num(e, 3) === corr);

Deno.test("streamed request over raw frames: every reply in order, the last final, then the inbox closes", async () => {
  await withNode(async (node) => {
    const worker = await responder(node.wsUrl, "jobs.run");
    const req = await open(node.wsUrl, "requester");
    req.send(request(41, "jobs.run", "go"));
    const inbox = await inboxOf(worker);
    assert.match(inbox, /^_inbox\.[0-9a-f]{32}$/);
    for (let i = 1; i <= 3; i++) {
      worker.send(publish(inbox, `step ${i}`, [header("arqon-reply", "more")]));
    }
    worker.send(publish(inbox, "done"));
    await req.until(() => replies(req, 41).length === 4, "4 replies");
    const got = replies(req, 41);
    assert.deepEqual(got.map((r) => str(msg(r, 2), 11)), ["step 1", "step 2", "step 3", "done"]);
    assert.deepEqual(got.map((r) => num(r, 3)), [0, 0, 0, 1], "only the last is final");
    // After the final reply the inbox is closed: the responder's next reply is refused.
    worker.send(pb([[F.publish, [[1, 9], [2, 1], [3, [[3, inbox], [11, enc.encode("late")]]]]]]));
    const [refused] = await worker.wait(F.error);
    assert.equal(num(refused, 1), 12, "FORBIDDEN");
    assert.equal(num(refused, 3), 9);
    await sleep(50);
    assert.equal(replies(req, 41).length, 4, "nothing after the final reply");
    await worker.close();
    await req.close();
  });
});

Deno.test("streamed request: forged replies from another connection or as reply frames never reach the requester", async () => {
  await withNode(async (node) => {
    const worker = await responder(node.wsUrl, "jobs.run");
    const req = await open(node.wsUrl, "requester");
    const forger = await open(node.wsUrl, "forger");
    req.send(request(7, "jobs.run", "go", 2000));
    const inbox = await inboxOf(worker);
    // Another connection that learnt the inbox name: FORBIDDEN, the stream goes on.
    forger.send(pb([[F.publish, [[1, 3], [2, 1], [3, [[3, inbox], [11, enc.encode("fake")]]]]]]));
    const [forbidden] = await forger.wait(F.error);
    assert.equal(num(forbidden, 1), 12, "FORBIDDEN");
    assert.match(str(forbidden, 2), /not the inbox of a pending request/);
    // A client may not send reply frames at all (with the requester's correlation id).
    forger.send(pb([[F.reply, [[1, 7], [2, [[3, inbox], [11, enc.encode("fake")]]], [3, 1]]]]));
    await forger.until(() => forger.of(F.error).length === 2, "second error");
    assert.equal(num(forger.of(F.error)[1], 1), 18, "PROTOCOL_VIOLATION");
    // The real responder's replies still arrive, and only they.
    worker.send(publish(inbox, "real", [header("arqon-reply", "more")]));
    worker.send(publish(inbox, "end", [header("arqon-reply", "final")]));
    await req.until(() => replies(req, 7).length === 2, "2 replies");
    assert.deepEqual(replies(req, 7).map((r) => str(msg(r, 2), 11)), ["real", "end"]);
    assert.deepEqual(replies(req, 7).map((r) => num(r, 3)), [0, 1]);
    assert.equal(req.of(F.reply).length, 2, "no reply under another correlation id");
    for (const s of [worker, req, forger]) await s.close();
  });
});

Deno.test("streamed request: the timeout runs between replies, not over the whole stream", async () => {
  await withNode(async (node) => {
    const worker = await responder(node.wsUrl, "jobs.run");
    const req = await open(node.wsUrl, "requester");
    // 6 replies 100 ms apart (600 ms in all) under a 300 ms timeout: all arrive.
    req.send(request(1, "jobs.run", "slow", 300));
    const inbox = await inboxOf(worker);
    for (let i = 0; i < 5; i++) {
      worker.send(publish(inbox, `p${i}`, [header("arqon-reply", "more")]));
      await sleep(100);
    }
    worker.send(publish(inbox, "end"));
    await req.until(() => replies(req, 1).length === 6, "6 replies");
    assert.equal(errors(req, 1).length, 0);
    // One reply, then silence: TIMEOUT after the quiet period.
    req.send(request(2, "jobs.run", "stalls", 200));
    const inbox2 = await inboxOf(worker, 2);
    worker.send(publish(inbox2, "only", [header("arqon-reply", "more")]));
    await req.until(() => errors(req, 2).length === 1, "timeout error", 3000);
    assert.equal(num(errors(req, 2)[0], 1), 10, "TIMEOUT");
    assert.equal(replies(req, 2).length, 1);
    await worker.close();
    await req.close();
  });
});

Deno.test("streamed request bounds: past max replies and max bytes the stream ends with QUOTA_EXCEEDED; the node keeps serving", async () => {
  await withNode(async (node) => {
    const worker = await responder(node.wsUrl, "jobs.run");
    const req = await open(node.wsUrl, "requester");
    req.send(request(1, "jobs.run", "many"));
    const inbox = await inboxOf(worker);
    for (let i = 0; i < 8; i++) {
      worker.send(publish(inbox, `r${i}`, [header("arqon-reply", "more")]));
    }
    await req.until(() => errors(req, 1).length === 1, "quota error");
    assert.equal(num(errors(req, 1)[0], 1), 21, "QUOTA_EXCEEDED");
    assert.match(str(errors(req, 1)[0], 2), /limit of 5 replies/);
    assert.equal(replies(req, 1).length, 5, "exactly the bound");
    assert.ok(replies(req, 1).every((r) => num(r, 3) === 0));

    req.send(request(2, "jobs.run", "big"));
    const inbox2 = await inboxOf(worker, 2);
    const kb = "x".repeat(400);
    for (let i = 0; i < 4; i++) worker.send(publish(inbox2, kb, [header("arqon-reply", "more")]));
    await req.until(() => errors(req, 2).length === 1, "bytes error");
    assert.equal(num(errors(req, 2)[0], 1), 21);
    assert.match(str(errors(req, 2)[0], 2), /limit of 1000 bytes/);
    assert.equal(replies(req, 2).length, 2, "400 + 400 fit, the third passes 1000");
    assert.equal(await metric(node, "arqon_limit_hits_total", 'limit="stream_max_replies"'), 1);
    assert.equal(await metric(node, "arqon_limit_hits_total", 'limit="stream_max_bytes"'), 1);

    // The node and the same connections go on: a plain request is answered.
    req.send(request(3, "jobs.run", "plain", 0, false));
    const inbox3 = await inboxOf(worker, 3);
    worker.send(publish(inbox3, "pong", [header("arqon-reply", "more")]));
    await req.until(() => replies(req, 3).length === 1, "plain reply");
    assert.equal(num(replies(req, 3)[0], 3), 1, "a plain request's reply is final");
    await worker.close();
    await req.close();
  }, { streamMaxReplies: 5, streamMaxBytes: 1000 });
});

Deno.test("a reply with arqon-error ends a streamed or plain request with that typed error", async () => {
  await withNode(async (node) => {
    const worker = await responder(node.wsUrl, "jobs.run");
    const req = await open(node.wsUrl, "requester");
    req.send(request(1, "jobs.run", "x"));
    const inbox = await inboxOf(worker);
    worker.send(publish(inbox, "half", [header("arqon-reply", "more")]));
    worker.send(publish(inbox, "payload is not JSON", [header("arqon-error", "INVALID_ARGUMENT")]));
    await req.until(() => errors(req, 1).length === 1, "error");
    assert.equal(num(errors(req, 1)[0], 1), 19, "INVALID_ARGUMENT");
    assert.equal(str(errors(req, 1)[0], 2), "payload is not JSON");
    assert.equal(replies(req, 1).length, 1);
    // An unknown code becomes INTERNAL, naming what the responder said.
    req.send(request(2, "jobs.run", "y", 0, false));
    const inbox2 = await inboxOf(worker, 2);
    worker.send(publish(inbox2, "oops", [header("arqon-error", "NOT_A_CODE")]));
    await req.until(() => errors(req, 2).length === 1, "error 2");
    assert.equal(num(errors(req, 2)[0], 1), 16, "INTERNAL");
    assert.match(str(errors(req, 2)[0], 2), /NOT_A_CODE.*oops/);
    await worker.close();
    await req.close();
  });
});

Deno.test("streamed request on the JSON subprotocol: stream and final in the proto3 JSON mapping", async () => {
  await withNode(async (node) => {
    const worker = await responder(node.wsUrl, "jobs.run");
    const req = await RawSocket.open(node.wsUrl, "arqon.v1.json");
    req.send(JSON.stringify({ hello: { clientName: "json", protocolVersion: 1 } }));
    await req.until(() => req.json.some((f) => f.welcome), "welcome");
    req.send(JSON.stringify({
      request: {
        correlationId: "12",
        stream: true,
        timeoutMs: 2000,
        pulse: { topic: "jobs.run", payload: btoa("{}") },
      },
    }));
    const inbox = await inboxOf(worker);
    worker.send(publish(inbox, "a", [header("arqon-reply", "more")]));
    worker.send(publish(inbox, "b"));
    await req.until(() => req.json.filter((f) => f.reply).length === 2, "2 replies");
    const got = req.json.filter((f) => f.reply).map((f) =>
      f.reply as { correlationId: string; final?: boolean; pulse: { payload: string } }
    );
    assert.deepEqual(got.map((r) => r.correlationId), ["12", "12"]);
    assert.deepEqual(got.map((r) => r.final ?? false), [false, true]);
    assert.deepEqual(got.map((r) => atob(r.pulse.payload)), ["a", "b"]);
    await worker.close();
    await req.close();
  });
});

Deno.test("HTTP ?stream=true answers with SSE: one event per reply, the last final; errors before and after", async () => {
  await withNode(async (node) => {
    const base = `${node.url}/v1/realities/default/request`;
    // Before publication: plain HTTP errors with a typed body.
    const none = await fetch(`${base}/jobs.nobody?stream=true`, { method: "POST", body: "x" });
    assert.equal(none.status, 503);
    assert.equal((await none.json()).error.code, "NO_RESPONDERS");
    const bad = await fetch(`${base}/jobs.run?stream=yes`, { method: "POST", body: "x" });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, "INVALID_ARGUMENT");

    const client = await ArqonClient.connect(node.wsUrl, { name: "worker" });
    const ws = client.subscribe("jobs.run", {
      onPulse: async (p) => {
        for (let i = 1; i <= 3; i++) {
          await client.reply(p, `{"step":${i}}`, { final: false, contentType: "application/json" });
        }
        await client.reply(p, `{"step":4,"done":true}`, { contentType: "application/json" });
      },
    });
    await ws.ready;
    const res = await fetch(`${base}/jobs.run?stream=true&timeout_ms=2000`, {
      method: "POST",
      body: '{"job":1}',
      headers: { "content-type": "application/json" },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const text = await res.text();
    const events = text.split("\n\n").filter((b) => b.trim()).map((block) => {
      const fields = Object.fromEntries(
        block.split("\n").map((
          l,
        ) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
      );
      return fields as { event: string; id: string; data: string };
    });
    assert.deepEqual(events.map((e) => e.event), ["reply", "reply", "reply", "reply"]);
    assert.deepEqual(events.map((e) => e.id), ["1", "2", "3", "4"]);
    const data = events.map((e) => JSON.parse(e.data));
    assert.deepEqual(data.map((d) => d.final), [false, false, false, true]);
    assert.deepEqual(
      data.map((d) =>
        JSON.parse(dec.decode(Uint8Array.from(atob(d.pulse.payload), (c) => c.charCodeAt(0)))).step
      ),
      [1, 2, 3, 4],
    );
    ws.close();
    await client.close();
  });
});

Deno.test("HTTP stream: a timeout between replies and a bound arrive as SSE error events", async () => {
  await withNode(async (node) => {
    const client = await ArqonClient.connect(node.wsUrl, { name: "worker" });
    const ws = client.subscribe("jobs.>", {
      onPulse: async (p) => {
        const n = p.topic === "jobs.stall" ? 1 : 10;
        for (let i = 0; i < n; i++) await client.reply(p, `r${i}`, { final: false });
      },
    });
    await ws.ready;
    const post = (topic: string) =>
      fetch(`${node.url}/v1/realities/default/request/${topic}?stream=true&timeout_ms=200`, {
        method: "POST",
        body: "x",
      }).then((r) => r.text());
    const stalled = await post("jobs.stall");
    assert.match(stalled, /event: reply\n/);
    assert.match(stalled, /event: error\ndata: \{"error":\{"code":"TIMEOUT"/);
    const flood = await post("jobs.flood");
    assert.equal(flood.match(/event: reply/g)?.length, 3);
    assert.match(flood, /event: error\ndata: \{"error":\{"code":"QUOTA_EXCEEDED"/);
    ws.close();
    await client.close();
  }, { streamMaxReplies: 3 });
});

Deno.test("an HTTP responder (request received on SSE) streams its replies with x-arqon-reply", async () => {
  await withNode(async (node) => {
    const sse = await SseReader.open(`${node.url}/v1/realities/default/subscribe?pattern=jobs.run`);
    assert.equal((await sse.nextOf("subscribed"))?.event, "subscribed");
    const req = await open(node.wsUrl, "requester");
    req.send(request(5, "jobs.run", "go", 2000));
    const delivered = JSON.parse((await sse.nextOf("pulse"))!.data);
    const inbox = delivered.replyTo as string;
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${node.url}/v1/realities/default/topics/${inbox}`, { method: "POST", body, headers });
    for (const [body, mark] of [["a", "more"], ["b", "more"], ["c", "final"]]) {
      const res = await post(body, { "x-arqon-reply": mark });
      assert.equal(res.status, 200, await res.text());
    }
    await req.until(() => replies(req, 5).length === 3, "3 replies");
    assert.deepEqual(replies(req, 5).map((r) => num(r, 3)), [0, 0, 1]);
    // The inbox is closed after the final reply.
    const late = await post("d", { "x-arqon-reply": "more" });
    assert.equal(late.status, 403);
    assert.equal((await late.json()).error.code, "FORBIDDEN");
    sse.close();
    await req.close();
  });
});

Deno.test("TypeScript client: for await over requestStream, typed errors thrown, break leaves the stream", async () => {
  await withNode(async (node) => {
    const worker = await ArqonClient.connect(node.wsUrl, { name: "worker" });
    const sub = worker.subscribe("calc.>", {
      onPulse: async (p) => {
        if (p.topic === "calc.fail") {
          await worker.reply(p, "half", { final: false });
          await worker.publish(p.replyTo!, "cannot compute", {
            ack: "none",
            headers: { "arqon-error": "INVALID_ARGUMENT" },
          });
          return;
        }
        for (let i = 1; i <= 5; i++) await worker.reply(p, String(i), { final: i === 5 });
      },
    });
    await sub.ready;
    const bus = await ArqonClient.connect(node.wsUrl, { name: "researcher" });
    const seen: string[] = [];
    for await (const reply of bus.requestStream("calc.count", "go", { timeoutMs: 2000 })) {
      seen.push(dec.decode(reply.payload!));
    }
    assert.deepEqual(seen, ["1", "2", "3", "4", "5"]);

    const partial: string[] = [];
    await assert.rejects(
      async () => {
        for await (const r of bus.requestStream("calc.fail", "go")) {
          partial.push(dec.decode(r.payload!));
        }
      },
      (e: Error & { code?: string }) =>
        e.code === "INVALID_ARGUMENT" && e.message === "cannot compute",
    );
    assert.deepEqual(partial, ["half"]);

    await assert.rejects(
      async () => {
        for await (const _ of bus.requestStream("nobody.home", "go")) { /* none */ }
      },
      (e: Error & { code?: string }) => e.code === "NO_RESPONDERS",
    );

    let first = "";
    for await (const r of bus.requestStream("calc.count", "go")) {
      first = dec.decode(r.payload!);
      break;
    }
    assert.equal(first, "1");
    // A plain request to a streaming responder takes the first reply.
    const one = await bus.request("calc.count", "go");
    assert.equal(dec.decode(one.payload!), "1");
    sub.close();
    await worker.close();
    await bus.close();
  });
});

Deno.test("a requester that leaves mid-stream (WebSocket or HTTP) releases the inbox at once", async () => {
  await withNode(async (node) => {
    const worker = await responder(node.wsUrl, "jobs.run");
    const req = await open(node.wsUrl, "requester");
    req.send(request(1, "jobs.run", "go", 60_000));
    const inbox = await inboxOf(worker);
    worker.send(publish(inbox, "first", [header("arqon-reply", "more")]));
    await req.until(() => replies(req, 1).length === 1, "first reply");
    await req.close();
    // The next reply finds no pending request: refused, not held for the 60 s timeout.
    const refusedLater = async (corr: number, target: string, n: number) => {
      for (let i = 0; i < 50; i++) {
        worker.send(pb([[F.publish, [[1, corr + i], [2, 1], [3, [[3, target], [
          11,
          enc.encode("more"),
        ], header("arqon-reply", "more")]]]]]));
        await worker.until(
          () => worker.of(F.ack).length + worker.of(F.error).length >= n + i,
          "answer",
        );
        if (worker.of(F.error).some((e) => num(e, 3) === corr + i)) return;
        await sleep(20);
      }
      assert.fail(`replies to ${target} were still accepted`);
    };
    await refusedLater(100, inbox, 1);

    const abort = new AbortController();
    const res = await fetch(
      `${node.url}/v1/realities/default/request/jobs.run?stream=true&timeout_ms=60000`,
      {
        method: "POST",
        body: "go",
        signal: abort.signal,
      },
    );
    const inbox2 = await inboxOf(worker, 2);
    worker.send(publish(inbox2, "first", [header("arqon-reply", "more")]));
    const reader = res.body!.getReader();
    const chunk = dec.decode((await reader.read()).value);
    assert.match(chunk, /event: reply/);
    abort.abort();
    await reader.cancel().catch(() => {});
    const before = worker.of(F.ack).length + worker.of(F.error).length;
    await refusedLater(200, inbox2, before + 1);
    await worker.close();
  });
});

Deno.test("streamed requests count against --max-pending-requests like plain ones", async () => {
  await withNode(async (node) => {
    const worker = await responder(node.wsUrl, "jobs.run");
    const req = await open(node.wsUrl, "requester");
    for (let c = 1; c <= 3; c++) req.send(request(c, "jobs.run", "go", 10_000));
    await req.until(() => errors(req, 3).length === 1, "quota");
    assert.equal(num(errors(req, 3)[0], 1), 21, "QUOTA_EXCEEDED");
    assert.equal(errors(req, 1).length + errors(req, 2).length, 0);
    // Ending one frees its slot.
    const inbox = await inboxOf(worker, 1);
    worker.send(publish(inbox, "done"));
    await req.until(() => replies(req, 1).length === 1, "final");
    req.send(request(4, "jobs.run", "go", 10_000));
    await inboxOf(worker, 3);
    assert.equal(errors(req, 4).length, 0);
    await worker.close();
    await req.close();
  }, { maxPendingRequests: 2 });
});
