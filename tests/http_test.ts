/** End-to-end over plain HTTP with fetch: publish, SSE subscribe, request/reply, errors. */
import assert from "node:assert/strict";
import { ArqonClient } from "../mod.ts";
import { metric, withNode } from "./support/node.ts";

/** Reads SSE events from a fetch response until `count` events of `type` arrived. */
async function readEvents(
  res: Response,
  type: string,
  count: number,
): Promise<{ event: string; id?: string; data: string }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { event: string; id?: string; data: string }[] = [];
  let buf = "";
  while (events.filter((e) => e.event === type).length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let sep;
    while ((sep = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      const e: { event: string; id?: string; data: string } = { event: "message", data: "" };
      for (const line of block.split("\n")) {
        const [k, ...rest] = line.split(":");
        const v = rest.join(":").trimStart();
        if (k === "event") e.event = v;
        else if (k === "id") e.id = v;
        else if (k === "data") e.data += v;
      }
      events.push(e);
    }
  }
  await reader.cancel();
  return events;
}

Deno.test("HTTP publish returns {id, sequence}; SSE subscribers receive pulses", async () => {
  await withNode(async (node) => {
    const sse = await fetch(`${node.url}/v1/realities/lab/subscribe?pattern=sensors.*.temp`);
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get("content-type") ?? "", /text\/event-stream/);
    const received = readEvents(sse, "pulse", 2);
    // The subscription is live once the node has written its `subscribed` event; wait for it.
    while ((await metric(node, "arqon_subscriptions")) < 1) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const results = [];
    for (const [room, value] of [["a", "21.5"], ["b", "19.0"]]) {
      const res = await fetch(`${node.url}/v1/realities/lab/topics/sensors.${room}.temp`, {
        method: "POST",
        body: JSON.stringify({ value: Number(value) }),
        headers: {
          "content-type": "application/json",
          traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        },
      });
      assert.equal(res.status, 200);
      results.push(await res.json());
    }
    assert.deepEqual(results.map((r) => r.sequence), [1, 2]);
    const events = (await received).filter((e) => e.event === "pulse");
    assert.deepEqual(events.map((e) => e.id), ["1", "2"]);
    const pulse = JSON.parse(events[0].data);
    assert.equal(pulse.id, results[0].id);
    assert.equal(pulse.topic, "sensors.a.temp");
    assert.equal(pulse.realityId, "lab");
    assert.equal(pulse.contentType, "application/json");
    assert.deepEqual(JSON.parse(atob(pulse.payload)), { value: 21.5 });
    assert.equal(
      pulse.traceContext.traceparent,
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
  });
});

Deno.test("HTTP request/reply answers with the responder's payload; timeout and no responders", async () => {
  await withNode(async (node) => {
    const responder = await ArqonClient.connect(node.wsUrl, { name: "responder" });
    const sub = responder.subscribe("math.double", {
      onPulse: (p) => {
        const n = Number(new TextDecoder().decode(p.payload));
        responder.reply(p, String(n * 2), { contentType: "text/plain" });
      },
    });
    await sub.ready;
    const res = await fetch(`${node.url}/v1/realities/default/request/math.double`, {
      method: "POST",
      body: "21",
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "42");
    assert.equal(res.headers.get("content-type"), "text/plain");
    const none = await fetch(`${node.url}/v1/realities/default/request/math.nobody`, {
      method: "POST",
      body: "1",
    });
    assert.equal(none.status, 503);
    assert.equal((await none.json()).error.code, "NO_RESPONDERS");
    const silent = responder.subscribe("math.silent");
    await silent.ready;
    const slow = await fetch(
      `${node.url}/v1/realities/default/request/math.silent?timeout_ms=100`,
      {
        method: "POST",
        body: "1",
      },
    );
    assert.equal(slow.status, 504);
    assert.equal((await slow.json()).error.code, "TIMEOUT");
    await responder.close();
  });
});

Deno.test("HTTP errors are 4xx with a JSON body; health and metrics answer", async () => {
  await withNode(async (node) => {
    const expect = async (res: Response, status: number, code: string) => {
      assert.equal(res.status, status, `${code}`);
      const body = await res.json();
      assert.equal(body.error.code, code);
      assert.equal(typeof body.error.message, "string");
    };
    await expect(
      await fetch(`${node.url}/v1/realities/default/topics/Bad.Topic`, {
        method: "POST",
        body: "x",
      }),
      400,
      "INVALID_TOPIC",
    );
    await expect(
      await fetch(`${node.url}/v1/realities/Bad!/topics/a.b`, { method: "POST", body: "x" }),
      400,
      "INVALID_ARGUMENT",
    );
    await expect(
      await fetch(`${node.url}/v1/realities/default/topics/a.b`, {
        method: "POST",
        body: new Uint8Array(2048),
      }),
      413,
      "FRAME_TOO_LARGE",
    );
    await expect(
      await fetch(`${node.url}/v1/realities/default/subscribe?pattern=a.>.b`),
      400,
      "INVALID_PATTERN",
    );
    await expect(await fetch(`${node.url}/v1/nothing`), 404, "NOT_FOUND");
    const health = await fetch(`${node.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");
    const metrics = await fetch(`${node.url}/metrics`);
    assert.match(metrics.headers.get("content-type") ?? "", /text\/plain/);
    const text = await metrics.text();
    assert.match(text, /# TYPE arqon_pulses_published_total counter/);
    assert.match(text, /arqon_errors_total\{transport="http",code="INVALID_TOPIC"\} 1/);
  }, { maxHttpBodyBytes: 1024 });
});
