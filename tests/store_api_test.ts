/**
 * The realities, retention and history HTTP API of a real node (in process, port 0),
 * including persistence across a node restart on the same data directory.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";

async function call(
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> | null; text: string }> {
  const res = await fetch(url, {
    method,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch { /* NDJSON or empty */ }
  return { status: res.status, json, text };
}

function ndjson(text: string): Record<string, unknown>[] {
  return text.split("\n").filter((l) => l).map((l) => JSON.parse(l));
}

Deno.test("store api: realities registry, retention and history over HTTP, persisted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-api-" });
  let node = await startNode({ port: 0, dataDir: dir, log: "quiet" });
  try {
    const base = `${node.url}/v1/realities`;
    let r = await call("POST", base, {
      name: "lab",
      retention: [{ pattern: "sensor.*.temp", maxPulses: 3 }, { pattern: "audit.>" }],
      limits: { maxSubscriptions: 5 },
    });
    assert.equal(r.status, 201);
    assert.equal((r.json as { name: string }).name, "lab");
    assert.equal((await call("POST", base, { name: "lab" })).status, 400);
    assert.equal((await call("POST", base, { name: "bad name!" })).status, 400);
    assert.equal((await call("POST", base, "not json")).status, 400);
    assert.equal((await call("GET", `${base}/missing`)).status, 404);
    assert.equal((await call("DELETE", `${base}/missing`)).status, 404);
    assert.equal((await call("GET", `${base}/missing/history`)).status, 404);

    const publish = async (topic: string, body: string) => {
      const res = await call("POST", `${base}/lab/topics/${topic}?ack=durable`, body);
      assert.equal(res.status, 200, res.text);
      return Number((res.json as { sequence: number }).sequence);
    };
    for (let i = 1; i <= 5; i++) await publish("sensor.a.temp", `t${i}`);
    await publish("audit.login", "a1");
    await publish("chatter.x", "not stored");
    await publish("audit.logout", "a2");

    r = await call("GET", `${base}/lab/history`);
    assert.equal(r.status, 200);
    const all = ndjson(r.text);
    assert.deepEqual(all.map((p) => Number(p.sequence)), [3, 4, 5, 6, 8]);
    assert.deepEqual(all.map((p) => atob(p.payload as string)), ["t3", "t4", "t5", "a1", "a2"]);

    r = await call("GET", `${base}/lab/history?pattern=audit.>&limit=1`);
    assert.deepEqual(ndjson(r.text).map((p) => atob(p.payload as string)), ["a1"]);
    r = await call("GET", `${base}/lab/history?from_seq=4&to_seq=6`);
    assert.deepEqual(ndjson(r.text).map((p) => Number(p.sequence)), [4, 5, 6]);
    const wall = Number((all[1].timestamp as { wallMs: string }).wallMs);
    r = await call("GET", `${base}/lab/history?from_time=${wall}&to_time=${wall}`);
    assert.ok(
      ndjson(r.text).every((p) => Number((p.timestamp as { wallMs: string }).wallMs) === wall),
    );
    assert.ok(ndjson(r.text).some((p) => Number(p.sequence) === 4));
    assert.equal((await call("GET", `${base}/lab/history?from_seq=-1`)).status, 400);
    assert.equal((await call("GET", `${base}/lab/history?pattern=a..b`)).status, 400);

    r = await call("PUT", `${base}/lab/retention`, { retention: [{ pattern: "audit.>" }] });
    assert.equal(r.status, 200);
    r = await call("GET", `${base}/lab/history`);
    assert.deepEqual(ndjson(r.text).map((p) => Number(p.sequence)), [6, 8]);

    assert.equal((await call("PUT", `${base}/other`, { retention: [] })).status, 201);
    r = await call("GET", base);
    assert.deepEqual(
      (r.json as { realities: { name: string }[] }).realities.map((x) => x.name),
      ["lab", "other"],
    );
    assert.equal((await call("DELETE", `${base}/other`)).status, 204);

    // history.get on a JSON (text) WebSocket session.
    const ws = new WebSocket(node.wsUrl, "arqon.v1.json");
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const chunks: Record<string, unknown>[] = [];
    const done = new Promise<void>((resolve) => {
      ws.onmessage = (e) => {
        const frame = JSON.parse(e.data);
        if (frame.historyChunk) {
          chunks.push(frame.historyChunk);
          if (frame.historyChunk.done) resolve();
        }
      };
    });
    ws.send(JSON.stringify({ historyGet: { correlationId: "5", realityId: "lab", limit: 1 } }));
    await done;
    ws.close();
    assert.equal(chunks.length, 1);
    assert.equal(chunks[0].correlationId, "5");
    const jsonPulses = chunks[0].pulses as { sequence: string; payload: string }[];
    assert.deepEqual(jsonPulses.map((p) => [p.sequence, atob(p.payload)]), [["6", "a1"]]);

    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(metrics, /arqon_store_pulses\{reality="lab"\} 2/);
    assert.match(metrics, /arqon_store_commit_seconds_count [1-9]/);
    assert.match(metrics, /arqon_store_retention_deleted_pulses_total [1-9]/);

    await node.shutdown();
    node = await startNode({ port: 0, dataDir: dir, log: "quiet" });
    const again = `${node.url}/v1/realities`;
    r = await call("GET", `${again}/lab`);
    assert.equal(r.status, 200);
    const info = r.json as { lastSequence: number; config: { limits: Record<string, number> } };
    assert.equal(info.lastSequence, 8);
    assert.equal(info.config.limits.maxSubscriptions, 5);
    assert.equal((await call("GET", `${again}/other`)).status, 404);
    const res = await call("POST", `${again}/lab/topics/audit.x?ack=durable`, "after restart");
    assert.equal(Number((res.json as { sequence: number }).sequence), 9);
    r = await call("GET", `${again}/lab/history?from_seq=8`);
    assert.deepEqual(ndjson(r.text).map((p) => atob(p.payload as string)), ["a2", "after restart"]);
  } finally {
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
