/**
 * `GET /v1/history?realities=a,b&order=causal` (issue 14 item 1, docs/time.md): stored
 * pulses of several realities merged in causal order, the same for every reader; bad
 * queries are typed 4xx errors. Read with fetch (not our SDK).
 */
import assert from "node:assert/strict";
import { ArqonClient, type IPulse } from "../mod.ts";
import { withNode } from "./support/node.ts";
import { call } from "./support/operators.ts";

async function retained(url: string, name: string): Promise<void> {
  const r = await call(url, "POST", "/v1/realities", { name, retention: [{ pattern: ">" }] });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

function lines(text: string): { realityId: string; sequence: string; vclock: object }[] {
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("causal history: dependencies first, the same order for every reader", async () => {
  await withNode(async (node) => {
    await retained(node.url, "ha");
    await retained(node.url, "hb");
    const source = await ArqonClient.connect(node.wsUrl, { name: "source" });
    const relay = await ArqonClient.connect(node.wsUrl, { name: "relay" });
    const back = await ArqonClient.connect(node.wsUrl, { name: "back" });
    const seenA: IPulse[] = [];
    const seenB: IPulse[] = [];
    await relay.subscribe("x.>", { reality: "ha", onPulse: (p) => seenA.push(p) }).ready;
    await back.subscribe("y.>", { reality: "hb", onPulse: (p) => seenB.push(p) }).ready;
    await source.publish("x.1", "1", { reality: "ha", ack: "durable" });
    await source.publish("x.2", "2", { reality: "ha", ack: "durable" });
    while (seenA.length < 2) await new Promise((r) => setTimeout(r, 5));
    await relay.close();
    // A fresh client consumed nothing: its hb:1 is concurrent with every pulse of ha.
    const relay2 = await ArqonClient.connect(node.wsUrl, { name: "relay2" });
    await relay2.publish("y.1", "y", { reality: "hb", ack: "durable" });
    await source.publish("x.3", "3", { reality: "ha", ack: "durable" });
    while (seenB.length < 1) await new Promise((r) => setTimeout(r, 5));
    await back.publish("x.4", "4", { reality: "ha", ack: "durable" }); // after hb:1, hence after ha:2
    const url = `${node.url}/v1/history?realities=hb,ha&order=causal`;
    const [one, two] = await Promise.all([fetch(url), fetch(url)]);
    assert.equal(one.status, 200);
    assert.equal(one.headers.get("content-type"), "application/x-ndjson");
    const [textOne, textTwo] = [await one.text(), await two.text()];
    assert.equal(textOne, textTwo, "two readers, one order");
    const names = lines(textOne).map((p) => `${p.realityId}:${p.sequence}`);
    // hb:1 has no reported dependency here (relay2 consumed nothing): it is concurrent with
    // ha:1..3 and placed by the tie-break (clock sum, then reality id); ha:4 follows it.
    assert.deepEqual(names, ["ha:1", "hb:1", "ha:2", "ha:3", "ha:4"]);
    assert.deepEqual(lines(textOne)[4].vclock, { ha: "4", hb: "1" });
    // The other realities' order given does not change the answer.
    const swapped = await (await fetch(`${node.url}/v1/history?realities=ha,hb`)).text();
    assert.equal(swapped, textOne);
    const limited = await (await fetch(`${url}&limit=2`)).text();
    assert.deepEqual(lines(limited).map((p) => `${p.realityId}:${p.sequence}`), names.slice(0, 2));
    await source.close();
    await relay2.close();
    await back.close();
  });
});

Deno.test("causal history: a reported dependency puts the dependent pulse after it", async () => {
  await withNode(async (node) => {
    await retained(node.url, "ka");
    await retained(node.url, "kb");
    const source = await ArqonClient.connect(node.wsUrl, { name: "source" });
    const relay = await ArqonClient.connect(node.wsUrl, { name: "relay" });
    const seen: IPulse[] = [];
    await relay.subscribe("x.>", { reality: "ka", onPulse: (p) => seen.push(p) }).ready;
    for (let i = 1; i <= 3; i++) {
      await source.publish(`x.${i}`, "x", { reality: "ka", ack: "durable" });
    }
    while (seen.length < 3) await new Promise((r) => setTimeout(r, 5));
    await relay.publish("y.1", "y", { reality: "kb", ack: "durable" }); // consumed ka:1..3
    const text = await (await fetch(`${node.url}/v1/history?realities=kb,ka&order=causal`)).text();
    const names = lines(text).map((p) => `${p.realityId}:${p.sequence}`);
    // Without its clock kb:1 (sum 1) would be placed first; it depends on ka:3.
    assert.deepEqual(names, ["ka:1", "ka:2", "ka:3", "kb:1"]);
    await source.close();
    await relay.close();
  });
});

Deno.test("causal history: bad queries are typed errors", async () => {
  await withNode(async (node) => {
    await retained(node.url, "ea");
    const cases: [string, number, string][] = [
      ["", 400, "INVALID_ARGUMENT"],
      ["?realities=ea&order=arrival", 400, "INVALID_ARGUMENT"],
      ["?realities=ea,ea", 400, "INVALID_ARGUMENT"],
      ["?realities=ea,Bad!", 400, "INVALID_ARGUMENT"],
      [
        `?realities=${Array.from({ length: 17 }, (_, i) => `r${i}`).join(",")}`,
        400,
        "INVALID_ARGUMENT",
      ],
      ["?realities=ea&limit=10001", 400, "INVALID_ARGUMENT"],
      ["?realities=ea&limit=-1", 400, "INVALID_ARGUMENT"],
      ["?realities=ea,missing", 404, "NOT_FOUND"],
    ];
    for (const [query, status, code] of cases) {
      const r = await call(node.url, "GET", `/v1/history${query}`);
      assert.equal(r.status, status, `${query}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code, query);
      assert.equal(typeof r.body.error.message, "string");
    }
  });
});
