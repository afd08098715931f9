/**
 * SSE resume end to end with a raw fetch client: `Last-Event-ID` and `from_sequence`
 * replay from the durable log and continue live with no gap or duplicate while a
 * publisher keeps publishing; resuming where nothing is retained is a typed 409;
 * keepalive comments; the `arqon_sse_streams` gauge.
 */
import assert from "node:assert/strict";
import { metric, sleep, withNode } from "./support/node.ts";
import { SseReader } from "./support/sse_client.ts";

const KEEP_ALL = { retention: [{ pattern: ">" }] };

async function publish(url: string, reality: string, topic: string, body: string) {
  const res = await fetch(`${url}/v1/realities/${reality}/topics/${topic}`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body,
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { sequence: number };
}

/** Reads pulse events until `count` arrived; returns [sequence, text] pairs. */
async function readPulses(sse: SseReader, count: number): Promise<[number, string][]> {
  const out: [number, string][] = [];
  while (out.length < count) {
    const e = await sse.nextOf("pulse");
    if (e === null) throw new Error(`stream ended after ${out.length} pulses`);
    const json = JSON.parse(e.data);
    assert.equal(e.id, String(json.sequence), "each event's id is its pulse's sequence");
    out.push([Number(json.sequence), atob(json.payload)]);
  }
  return out;
}

Deno.test("sse: Last-Event-ID resumes with no gap or duplicate while publishing", async () => {
  await withNode(async (node) => {
    node.store.createReality("r", KEEP_ALL);
    const M = 400;
    const url = `${node.url}/v1/realities/r/subscribe?pattern=t.>`;
    const first = await SseReader.open(url);
    assert.equal(first.response.status, 200);
    assert.ok((await first.nextOf("subscribed")) !== null);
    let published = 0;
    const publisher = (async () => {
      for (let i = 1; i <= M; i++) {
        await publish(node.url, "r", "t.a", `p${i}`);
        published = i;
        if (i % 20 === 0) await sleep(5);
      }
    })();
    const head = await readPulses(first, 50);
    first.close();
    // The publisher goes on while the client is away.
    while (published < head.at(-1)![0] + 60) await sleep(5);
    const second = await SseReader.open(url, { "last-event-id": String(head.at(-1)![0]) });
    assert.equal(second.response.status, 200);
    await publisher;
    const tail = await readPulses(second, M - head.at(-1)![0]);
    second.close();
    const union = [...head, ...tail];
    assert.deepEqual(union.map(([s]) => s), Array.from({ length: M }, (_, i) => i + 1));
    assert.deepEqual(union.map(([, t]) => t), Array.from({ length: M }, (_, i) => `p${i + 1}`));
  });
});

Deno.test("sse: from_sequence and its alias from_seq start a replay", async () => {
  await withNode(async (node) => {
    node.store.createReality("q", KEEP_ALL);
    for (let i = 1; i <= 10; i++) await publish(node.url, "q", "a", `p${i}`);
    for (const name of ["from_sequence", "from_seq"]) {
      const sse = await SseReader.open(`${node.url}/v1/realities/q/subscribe?pattern=a&${name}=4`);
      const got = await readPulses(sse, 7);
      assert.deepEqual(got.map(([s]) => s), [4, 5, 6, 7, 8, 9, 10]);
      sse.close();
    }
    // Last-Event-ID wins over the query (a browser reconnects to the URL it first opened).
    const sse = await SseReader.open(`${node.url}/v1/realities/q/subscribe?pattern=a&from_seq=1`, {
      "last-event-id": "8",
    });
    assert.deepEqual((await readPulses(sse, 2)).map(([s]) => s), [9, 10]);
    sse.close();
  });
});

Deno.test("sse: resuming without retention is a typed 409; bad ids a 400", async () => {
  await withNode(async (node) => {
    node.store.createReality("kept", { retention: [{ pattern: "orders.>" }] });
    const refused = [
      `${node.url}/v1/realities/bare/subscribe?pattern=x`,
      `${node.url}/v1/realities/kept/subscribe?pattern=audit.*`,
    ];
    for (const base of refused) {
      for (
        const [url, headers] of [[`${base}&from_sequence=1`, {}], [base, {
          "last-event-id": "5",
        }]] as const
      ) {
        const res = await fetch(url, { headers });
        const body = await res.json();
        assert.equal(res.status, 409, JSON.stringify(body));
        assert.equal(body.error.code, "NOT_RETAINED");
        assert.match(body.error.message, /retention rule/);
      }
    }
    for (
      const [q, h] of [["from_sequence=-1", {}], ["from_seq=abc", {}], ["", {
        "last-event-id": "x1",
      }]]
    ) {
      const res = await fetch(`${node.url}/v1/realities/kept/subscribe?pattern=orders.a&${q}`, {
        headers: h as Record<string, string>,
      });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error.code, "INVALID_ARGUMENT");
    }
    // Retained topics resume; the node kept serving through the refusals.
    await publish(node.url, "kept", "orders.a", "o1");
    const sse = await SseReader.open(`${node.url}/v1/realities/kept/subscribe?pattern=orders.*`, {
      "last-event-id": "0",
    });
    assert.deepEqual(await readPulses(sse, 1), [[1, "o1"]]);
    sse.close();
  });
});

Deno.test("sse: keepalive comments on an idle stream; streams counted in /metrics", async () => {
  await withNode(async (node) => {
    assert.equal(await metric(node, "arqon_sse_streams"), 0);
    const a = await SseReader.open(`${node.url}/v1/realities/default/subscribe?pattern=idle`);
    const b = await SseReader.open(`${node.url}/v1/realities/default/subscribe?pattern=idle`);
    await a.nextOf("subscribed");
    await b.nextOf("subscribed");
    assert.equal(await metric(node, "arqon_sse_streams"), 2);
    let comments = 0;
    while (comments < 3) {
      const e = await a.next();
      assert.ok(e !== null);
      if (e.event === "comment") {
        assert.equal(e.data, "keepalive");
        comments++;
      }
    }
    a.close();
    b.close();
    const deadline = Date.now() + 5000;
    while (await metric(node, "arqon_sse_streams") !== 0) {
      assert.ok(Date.now() < deadline, "gauge returns to 0 once the clients left");
      await sleep(20);
    }
  }, { sseKeepaliveMs: 50 });
});

Deno.test("sse: --sse-keepalive-ms 0 sends no comments", async () => {
  await withNode(async (node) => {
    const sse = await SseReader.open(`${node.url}/v1/realities/default/subscribe?pattern=quiet`);
    await sse.nextOf("subscribed");
    // One read in flight: nothing at all may arrive for 300 ms.
    const pending = sse.next();
    const first = await Promise.race([pending, sleep(300).then(() => "silent" as const)]);
    assert.equal(first, "silent");
    // Still live: a publish arrives, and it is the very next thing on the stream.
    await publish(node.url, "default", "quiet", "q1");
    const e = await pending;
    assert.equal(e?.event, "pulse");
    assert.equal(atob(JSON.parse(e!.data).payload), "q1");
    sse.close();
  }, { sseKeepaliveMs: 0 });
});

Deno.test("sse: hostile resume positions: past the head, huge, padded; many resumers at once", async () => {
  await withNode(async (node) => {
    node.store.createReality("h", KEEP_ALL);
    for (let i = 1; i <= 5; i++) await publish(node.url, "h", "a", `p${i}`);
    const url = `${node.url}/v1/realities/h/subscribe?pattern=a`;
    // Past the head: nothing replayed, live continues from the next sequence.
    const ahead = await SseReader.open(url, { "last-event-id": "1000" });
    await ahead.nextOf("subscribed");
    await publish(node.url, "h", "a", "p6");
    assert.deepEqual(await readPulses(ahead, 1), [[6, "p6"]]);
    ahead.close();
    for (const bad of ["99999999999999999", "1.5", "-3", "0x10", "1 2"]) {
      const res = await fetch(url, { headers: { "last-event-id": bad } });
      assert.equal(res.status, 400, bad);
      assert.equal((await res.json()).error.code, "INVALID_ARGUMENT");
    }
    // Twenty clients resume from different points while the publisher goes on: each sees
    // exactly its suffix, in order.
    const readers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => SseReader.open(url, { "last-event-id": String(i % 6) })),
    );
    const more = (async () => {
      for (let i = 7; i <= 40; i++) await publish(node.url, "h", "a", `p${i}`);
    })();
    const seen = await Promise.all(readers.map((r, i) => readPulses(r, 40 - (i % 6))));
    await more;
    seen.forEach((got, i) => {
      const from = (i % 6) + 1;
      assert.deepEqual(got.map(([s]) => s), Array.from({ length: 41 - from }, (_, k) => from + k));
    });
    for (const r of readers) r.close();
  });
});
