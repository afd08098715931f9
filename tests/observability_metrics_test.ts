/**
 * Observability end to end: a real node, raw protobuf WebSocket clients (no SDK) and
 * `/metrics` scraped with fetch. Latency histograms fill from sampled pulses, queue depth
 * shows per reality, process metrics and event-loop lag are there and typed.
 */
import assert from "node:assert/strict";
import { F, pb, type PbField } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { metric, sleep, withNode } from "./support/node.ts";
import { LATENCY_SAMPLE_EVERY } from "../runtime/telemetry/mod.ts";
import { builtinComponent } from "../casil/mod.ts";

const PROTO = "arqon.v1.proto";
const enc = new TextEncoder();
const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);
const subscribe = (id: number, pattern: string, corr: number, reality = "") =>
  pb([[
    F.subscribe,
    [[1, id], [3, pattern], [12, corr], ...(reality ? [[2, reality]] : [])] as PbField[],
  ]]);
const publish = (corr: number, topic: string, reality = "") =>
  pb([[F.publish, [[1, corr], [2, 1], [
    3,
    [[3, topic], [11, enc.encode("x")], ...(reality ? [[5, reality]] : [])] as PbField[],
  ]]]]);

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  return await res.text();
}

Deno.test("metrics: publish-to-ack and publish-to-delivery histograms count sampled pulses", async () => {
  await withNode(async (node) => {
    const sub = await RawSocket.open(node.wsUrl, PROTO);
    const pubs = await RawSocket.open(node.wsUrl, PROTO);
    sub.send(hello("obs-sub"));
    await sub.wait(F.welcome);
    sub.send(subscribe(1, "lat.>", 10, "lat"));
    await sub.wait(F.subscribed);
    pubs.send(hello("obs-pub"));
    await pubs.wait(F.welcome);
    const n = LATENCY_SAMPLE_EVERY * 4;
    for (let i = 1; i <= n; i++) pubs.send(publish(i, "lat.x", "lat"));
    await pubs.wait(F.ack, n);
    await sub.until(() => sub.of(F.deliver).length === n, `${n} deliveries`);
    // One pulse in LATENCY_SAMPLE_EVERY is timed: exactly n / LATENCY_SAMPLE_EVERY samples.
    const want = n / LATENCY_SAMPLE_EVERY;
    assert.equal(await metric(node, "arqon_publish_to_ack_seconds_count", 'reality="lat"'), want);
    assert.equal(
      await metric(node, "arqon_publish_to_delivery_seconds_count", 'reality="lat"'),
      want,
    );
    const text = await scrape(node.url);
    assert.match(text, /# TYPE arqon_publish_to_ack_seconds histogram/);
    assert.match(text, /arqon_publish_to_ack_seconds_bucket\{le="\+Inf",reality="lat"\} 4/);
    assert.equal(await metric(node, "arqon_pulses_published_total", 'reality="lat"'), n);
    await sub.close();
    await pubs.close();
  });
});

Deno.test("metrics: queue depth per reality follows an unread subscriber", async () => {
  await withNode(async (node) => {
    const sub = await RawSocket.open(node.wsUrl, PROTO);
    sub.send(hello("obs-slow"));
    await sub.wait(F.welcome);
    // max_in_flight 1 (field 8): one delivery in flight, the rest wait in the queue.
    sub.send(pb([[F.subscribe, [[1, 1], [2, "deep"], [3, "q.>"], [8, 1], [12, 5]]]]));
    await sub.wait(F.subscribed);
    const pubs = await RawSocket.open(node.wsUrl, PROTO);
    pubs.send(hello("obs-pub2"));
    await pubs.wait(F.welcome);
    for (let i = 1; i <= 10; i++) pubs.send(publish(i, "q.a", "deep"));
    await pubs.wait(F.ack, 10);
    await sub.wait(F.deliver, 1);
    assert.equal(await metric(node, "arqon_reality_queue_messages", 'reality="deep"'), 9);
    // Another reality with nothing queued shows 0, not the other's depth.
    pubs.send(publish(11, "q.a", "other"));
    await pubs.wait(F.ack, 11);
    assert.equal(await metric(node, "arqon_reality_queue_messages", 'reality="other"'), 0);
    await sub.close();
    await sleep(50);
    assert.equal(await metric(node, "arqon_reality_queue_messages", 'reality="deep"'), 0);
    await pubs.close();
  });
});

Deno.test("metrics: process metrics and event-loop lag (a blocked loop shows as lag)", async () => {
  await withNode(async (node) => {
    await scrape(node.url); // resets the lag maximum
    // Block the loop for 300 ms: the 100 ms timer fires about 200 ms late.
    const until = performance.now() + 300;
    while (performance.now() < until) { /* busy */ }
    await sleep(150);
    const text = await scrape(node.url);
    const lagMax = await metric(node, "arqon_event_loop_lag_max_seconds");
    // The second scrape reset it; read the value from the first text instead.
    const line = text.split("\n").find((l) => l.startsWith("arqon_event_loop_lag_max_seconds "));
    assert.ok(line, "lag max present");
    assert.ok(Number(line!.split(" ")[1]) >= 0.15, `lag max ${line}`);
    assert.ok(lagMax >= 0);
    assert.match(text, /# TYPE arqon_event_loop_lag_seconds histogram/);
    assert.match(text, /# TYPE arqon_process_cpu_seconds_total counter/);
    const cpu = await metric(node, "arqon_process_cpu_seconds_total", 'mode="user"');
    assert.ok(cpu > 0, `cpu seconds ${cpu}`);
    const fds = await metric(node, "arqon_process_open_fds");
    assert.ok(fds >= 3, `open fds ${fds}`);
    const start = await metric(node, "arqon_process_start_time_seconds");
    assert.ok(Math.abs(start - Date.now() / 1000) < 3600, `start time ${start}`);
    // Every counter family is named *_total.
    for (const m of text.matchAll(/^# TYPE (\S+) counter$/gm)) {
      assert.ok(m[1].endsWith("_total"), `counter ${m[1]} ends in _total`);
    }
  });
});

Deno.test("metrics: the policy chain's time is observed for sampled pulses only where policies run", async () => {
  await withNode(async (node) => {
    const put = await fetch(`${node.url}/v1/policies/cap`, {
      method: "PUT",
      body: await builtinComponent("payload_size_cap"),
    });
    assert.equal(put.status, 201, await put.text());
    const pubs = await RawSocket.open(node.wsUrl, PROTO);
    pubs.send(hello("obs-pol"));
    await pubs.wait(F.welcome);
    const n = LATENCY_SAMPLE_EVERY * 2;
    for (let i = 1; i <= n; i++) pubs.send(publish(i, "pol.x", "pol"));
    await pubs.wait(F.ack, n);
    assert.equal(await metric(node, "arqon_policy_eval_seconds_count", 'reality="pol"'), 2);
    const sum = await metric(node, "arqon_policy_eval_seconds_sum", 'reality="pol"');
    assert.ok(sum > 0 && sum < 5, `policy seconds ${sum}`);
    await pubs.close();
  });
});
