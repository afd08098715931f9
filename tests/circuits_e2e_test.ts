/**
 * Circuits on a real node, over HTTP only (fetch: publishes of raw float32 frames, SSE for
 * the classes, the circuit routes): the shipped audio demo classifies synthetic tones and
 * noise; a frame its entry schema refuses is counted on hop 0 and never reaches the stage;
 * GET shows per hop pulses, violations, latencies and the slowest stage; DELETE removes the
 * operators the circuit installed; a restarted node has its circuits back.
 */
import assert from "node:assert/strict";
import { withNode } from "./support/node.ts";
import { buildOperatorCached, OPERATOR_BUILD_DIR, REPO_ROOT } from "../operators/build/mod.ts";
import {
  CLASSES,
  DEMO_TOPICS,
  demoCircuit,
  noiseFrame,
  toneFrame,
} from "../operators/circuits/demo.ts";
import { HARMONICS_SOURCE } from "../operators/builtin/harmonics/mod.ts";
import type { ArqonNode } from "../mod.ts";

// What `deno task build` does for every shipped operator (a no-op when up to date).
await buildOperatorCached(HARMONICS_SOURCE, `${OPERATOR_BUILD_DIR}builtin/harmonics.wasm`);
await buildOperatorCached(
  `${REPO_ROOT}operators/builtin/classify/assembly/operator.ts`,
  `${OPERATOR_BUILD_DIR}builtin/classify.wasm`,
);

const JSON_HEADERS = { "content-type": "application/json" };

/** `PUT` a circuit; the status and the parsed body. */
export async function putCircuit(node: ArqonNode, reality: string, name: string, body: unknown) {
  const res = await fetch(`${node.url}/v1/realities/${reality}/circuits/${name}`, {
    method: "PUT",
    headers: JSON_HEADERS,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function publishFrame(node: ArqonNode, frame: Uint8Array, topic = DEMO_TOPICS.frames) {
  const res = await fetch(`${node.url}/v1/realities/default/topics/${topic}`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: frame as Uint8Array<ArrayBuffer>,
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
}

/** An SSE subscription read with fetch: the JSON pulses as they come. */
async function sse(node: ArqonNode, pattern: string) {
  const ctl = new AbortController();
  const res = await fetch(
    `${node.url}/v1/realities/default/subscribe?pattern=${encodeURIComponent(pattern)}`,
    { signal: ctl.signal },
  );
  assert.equal(res.status, 200);
  const pulses: Record<string, unknown>[] = [];
  let subscribed!: () => void;
  const ready = new Promise<void>((r) => subscribed = r);
  const reading = (async () => {
    let buf = "";
    const dec = new TextDecoder();
    try {
      for await (const chunk of res.body!) {
        buf += dec.decode(chunk, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const event = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          if (event.includes("event: subscribed")) subscribed();
          const data = event.split("\n").find((l) => l.startsWith("data: "));
          if (event.includes("event: pulse") && data) pulses.push(JSON.parse(data.slice(6)));
        }
      }
    } catch { /* aborted */ }
  })();
  await ready;
  return {
    pulses,
    async until(n: number, what: string) {
      const deadline = Date.now() + 20_000;
      while (pulses.length < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      ctl.abort();
      await reading;
    },
  };
}

function payloadJson(
  p: Record<string, unknown>,
): { class: string; values: Record<string, number> } {
  // The JSON view carries a JSON payload as `payload_json`, else base64 `payload`.
  if (p.payload_json !== undefined) return p.payload_json as never;
  const bytes = Uint8Array.from(atob(p.payload as string), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

async function getCircuit(node: ArqonNode, name: string) {
  const res = await fetch(`${node.url}/v1/realities/default/circuits/${name}`);
  return { status: res.status, body: await res.json() };
}

Deno.test("circuits: the audio demo classifies tones and noise end to end, per-hop figures", async () => {
  await withNode(async (node) => {
    // The features stage saying it gives 5 values: hop 2 is refused, nothing installed.
    const five = demoCircuit();
    const card = (five.stages[1].operator as { card: { output_schema: Record<string, number> } })
      .card;
    card.output_schema = { ...card.output_schema, minItems: 5, maxItems: 5 };
    const refused = await putCircuit(node, "default", "audio", five);
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.error.hop, 2);
    assert.match(
      refused.body.error.message,
      /property "\(the payload\)": item count lower bound >= 5 is wider than the consumer's >= 6/,
    );
    assert.deepEqual(await (await fetch(`${node.url}/v1/operators`)).json(), []);

    const put = await putCircuit(node, "default", "audio", demoCircuit());
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.equal(put.body.stages.length, 3);
    assert.ok(put.body.stages.every((s: { status: string }) => s.status === "running"));
    const classes = await sse(node, DEMO_TOPICS.classes);
    const frames: [Uint8Array, string][] = [
      [toneFrame(500), "low_tone"],
      [toneFrame(3000), "high_tone"],
      [noiseFrame(1), "noise"],
      [toneFrame(700, 0.8), "low_tone"],
      [toneFrame(500, 0.001), "silence"],
      [noiseFrame(2, 0.2), "noise"],
      [toneFrame(2500, 0.3), "high_tone"],
      [new Uint8Array(128 * 4), "silence"],
    ];
    for (const [frame] of frames) await publishFrame(node, frame);
    // A frame of the wrong size: refused by the entry schema (hop 0), never classified.
    await publishFrame(node, toneFrame(500).slice(0, 64 * 4));
    await publishFrame(node, noiseFrame(3));
    await classes.until(frames.length + 1, "the classes");
    const got = classes.pulses.map((p) => payloadJson(p).class);
    assert.deepEqual(got, [...frames.map(([, c]) => c), "noise"]);
    for (const p of classes.pulses) {
      const v = payloadJson(p).values;
      assert.ok(CLASSES.includes(payloadJson(p).class as never));
      assert.equal(Object.keys(v).length, 8);
    }
    const centroid = payloadJson(classes.pulses[0]).values.centroid_hz;
    assert.ok(Math.abs(centroid - 500) < 1, `500 Hz tone, centroid ${centroid}`);
    await classes.close();

    const { status, body } = await getCircuit(node, "audio");
    assert.equal(status, 200);
    assert.deepEqual(body.hops.map((h: { topic: string }) => h.topic), [
      DEMO_TOPICS.frames,
      DEMO_TOPICS.windowed,
      DEMO_TOPICS.features,
    ]);
    assert.deepEqual(body.hops.map((h: { pulses: number }) => h.pulses), [10, 9, 9]);
    assert.deepEqual(body.hops.map((h: { violations: number }) => h.violations), [1, 0, 0]);
    for (const h of body.hops) {
      assert.ok(h.latency_ms.p50 > 0 && h.latency_ms.p99 >= h.latency_ms.p50, JSON.stringify(h));
    }
    assert.ok([0, 1, 2].includes(body.slowest_stage.stage));
    assert.equal(body.stages[2].pulses_out, 9);
    const listed = await (await fetch(`${node.url}/v1/realities/default/circuits`)).json();
    assert.deepEqual(listed.map((c: { name: string }) => c.name), ["audio"]);

    // DELETE removes it and the three operators it installed.
    const ops = body.stages.map((s: { operator: string }) => s.operator);
    const del = await fetch(`${node.url}/v1/realities/default/circuits/audio`, {
      method: "DELETE",
    });
    assert.equal(del.status, 200);
    await del.body?.cancel();
    for (const op of ops) {
      const res = await fetch(`${node.url}/v1/operators/${op}`);
      assert.equal(res.status, 404, op);
      await res.body?.cancel();
    }
    assert.equal((await getCircuit(node, "audio")).status, 404);
    const again = await fetch(`${node.url}/v1/realities/default/circuits/audio`, {
      method: "DELETE",
    });
    assert.equal(again.status, 404);
    assert.equal((await again.json()).error.code, "NOT_FOUND");
  });
});

Deno.test("circuits: a restarted node has its circuits (and their operators) back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withNode(async (node) => {
      assert.equal((await putCircuit(node, "default", "audio", demoCircuit())).status, 201);
    }, { dataDir: dir });
    await withNode(async (node) => {
      const { status, body } = await getCircuit(node, "audio");
      assert.equal(status, 200, JSON.stringify(body));
      assert.ok(body.stages.every((s: { status: string }) => s.status === "running"));
      const classes = await sse(node, DEMO_TOPICS.classes);
      await publishFrame(node, toneFrame(3000));
      await classes.until(1, "a class after the restart");
      assert.equal(payloadJson(classes.pulses[0]).class, "high_tone");
      await classes.close();
    }, { dataDir: dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
