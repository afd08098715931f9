/**
 * "JSON stays JSON" with raw clients (fetch SSE, fetch NDJSON, a raw `arqon.v1.json`
 * WebSocket): a JSON pulse carries `data` (its payload as a JSON value) beside base64
 * `payload`, a text pulse `text`; binary and broken JSON carry `payload` alone. A JSON
 * client may publish with `data`/`text` instead of base64. HTTP history takes the
 * WebSocket names (`from_sequence`...), the old ones kept as aliases.
 */
import assert from "node:assert/strict";
import { withNode } from "./support/node.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { SseReader } from "./support/sse_client.ts";

const KEEP_ALL = { retention: [{ pattern: ">" }] };

/** What each published pulse must look like once rendered in JSON. */
const CASES: {
  type: string;
  body: Uint8Array<ArrayBuffer> | string;
  data?: unknown;
  text?: string;
}[] = [
  {
    type: "application/json",
    body: '{"a":1,"b":[true,null],"c":"é"}',
    data: { a: 1, b: [true, null], c: "é" },
  },
  { type: "application/vnd.arqon.order+json; charset=utf-8", body: "[1,2]", data: [1, 2] },
  { type: "text/plain; charset=utf-8", body: "héllo\nworld", text: "héllo\nworld" },
  { type: "application/octet-stream", body: new Uint8Array([0, 255, 1]) },
  { type: "application/json", body: "{broken" }, // declared JSON, is not: bytes only
  { type: "text/plain", body: new Uint8Array([0xff, 0xfe]) }, // not UTF-8: bytes only
];

function checkViews(pulses: Record<string, unknown>[], offset = 0): void {
  CASES.forEach((c, i) => {
    const p = pulses[i + offset];
    const bytes = typeof c.body === "string" ? new TextEncoder().encode(c.body) : c.body;
    assert.equal(p.payload, btoa(String.fromCharCode(...bytes)), `case ${i}: base64 payload kept`);
    assert.deepEqual(p.data, c.data, `case ${i}: data`);
    assert.equal(p.text, c.text, `case ${i}: text`);
    if (c.data === undefined) assert.ok(!("data" in p), `case ${i}: no data key`);
    if (c.text === undefined) assert.ok(!("text" in p), `case ${i}: no text key`);
  });
}

Deno.test("json views: SSE, history NDJSON and the JSON WebSocket carry data/text", async () => {
  await withNode(async (node) => {
    node.store.createReality("j", KEEP_ALL);
    const sse = await SseReader.open(`${node.url}/v1/realities/j/subscribe?pattern=v.>`);
    await sse.nextOf("subscribed");
    const ws = await RawSocket.open(node.wsUrl, "arqon.v1.json");
    ws.send(JSON.stringify({ hello: { clientName: "json-view", protocolVersion: 1 } }));
    await ws.until(() => ws.json.some((f) => f.welcome), "welcome");
    ws.send(JSON.stringify({
      subscribe: { subscription_id: 1, reality_id: "j", pattern: "v.>", correlation_id: "1" },
    }));
    await ws.until(() => ws.json.some((f) => f.subscribed), "subscribed");

    for (const c of CASES) {
      const res = await fetch(`${node.url}/v1/realities/j/topics/v.x`, {
        method: "POST",
        headers: { "content-type": c.type },
        body: c.body,
      });
      assert.equal(res.status, 200);
    }
    const fromSse = [];
    for (let i = 0; i < CASES.length; i++) {
      fromSse.push(JSON.parse((await sse.nextOf("pulse"))!.data));
    }
    sse.close();
    checkViews(fromSse);

    await ws.until(() => ws.json.filter((f) => f.deliver).length === CASES.length, "deliveries");
    checkViews(
      ws.json.filter((f) => f.deliver).map((f) =>
        (f.deliver as { pulse: Record<string, unknown> }).pulse
      ),
    );

    // History over HTTP (NDJSON), under the shared name and the old alias.
    for (
      const q of [
        "from_sequence=1&to_sequence=6",
        "from_seq=1&to_seq=6",
        "from_sequence=1&from_seq=1",
      ]
    ) {
      const res = await fetch(`${node.url}/v1/realities/j/history?${q}`);
      assert.equal(res.status, 200);
      const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
      checkViews(lines);
    }
    const clash = await fetch(`${node.url}/v1/realities/j/history?from_sequence=2&from_seq=3`);
    assert.equal(clash.status, 400);
    assert.equal((await clash.json()).error.code, "INVALID_ARGUMENT");
    const narrow = await fetch(`${node.url}/v1/realities/j/history?from_sequence=3&to_sequence=3`);
    assert.deepEqual((await narrow.text()).trim().split("\n").map((l) => JSON.parse(l).text), [
      "héllo\nworld",
    ]);

    // History over the JSON WebSocket: the same views.
    ws.send(
      JSON.stringify({ history_get: { correlation_id: "9", reality_id: "j", from_sequence: "1" } }),
    );
    await ws.until(
      () => ws.json.some((f) => (f.historyChunk as { done?: boolean })?.done),
      "history",
    );
    const chunks = ws.json.filter((f) => f.historyChunk).flatMap((f) =>
      (f.historyChunk as { pulses: Record<string, unknown>[] }).pulses
    );
    checkViews(chunks);
    await ws.close();
  });
});

Deno.test("json views: a JSON client publishes with data or text instead of base64", async () => {
  await withNode(async (node) => {
    const ws = await RawSocket.open(node.wsUrl, "arqon.v1.json");
    ws.send(JSON.stringify({ hello: { clientName: "json-pub", protocolVersion: 1 } }));
    await ws.until(() => ws.json.some((f) => f.welcome), "welcome");
    ws.send(
      JSON.stringify({ subscribe: { subscriptionId: 1, pattern: "in.>", correlationId: "1" } }),
    );
    await ws.until(() => ws.json.some((f) => f.subscribed), "subscribed");
    const publish = (corr: string, pulse: Record<string, unknown>) =>
      ws.send(
        JSON.stringify({ publish: { correlationId: corr, ack: "ACK_MODE_RECEIVED", pulse } }),
      );
    publish("1", { topic: "in.a", data: { n: 1, list: ["x"] } });
    publish("2", { topic: "in.a", text: "plain words" });
    // An echoed delivery (payload and views): the bytes win.
    publish("3", {
      topic: "in.a",
      contentType: "application/json",
      payload: btoa("[3]"),
      data: "ignored",
    });
    publish("4", { topic: "in.a", text: 42 }); // a non-string text: refused by field name
    await ws.until(() => ws.json.filter((f) => f.ack || f.error).length === 4, "answers");
    const err = ws.json.find((f) => f.error)!.error as { code: string; correlationId: string };
    assert.equal(err.code, "ERROR_CODE_INVALID_FRAME");
    assert.equal(err.correlationId, "4");
    await ws.until(() => ws.json.filter((f) => f.deliver).length === 3, "deliveries");
    const got = ws.json.filter((f) => f.deliver).map((f) =>
      (f.deliver as { pulse: Record<string, unknown> }).pulse
    );
    assert.deepEqual(got.map((p) => p.contentType), [
      "application/json",
      "text/plain; charset=utf-8",
      "application/json",
    ]);
    assert.deepEqual(got[0].data, { n: 1, list: ["x"] });
    assert.equal(atob(got[0].payload as string), '{"n":1,"list":["x"]}');
    assert.equal(got[1].text, "plain words");
    assert.deepEqual(got[2].data, [3]);
    await ws.close();
  });
});
