/**
 * The anycast bounds driven past in a node child process (issue 16): a client fills its
 * reality's embeddings (`--anycast-max-per-reality`) with 384-dimension vectors, a second
 * client keeps asking for more (each refused with QUOTA_EXCEEDED, 2,500 times) and with too many vectors
 * per subscription (INVALID_ARGUMENT). The node's RSS must not grow with the refused
 * registrations, and a third client's plain and anycast traffic keeps being served.
 * @module
 */
import assert from "node:assert/strict";
import { F, num, pb, type PbField, type PbMessage, str } from "../support/pb.ts";
import { RawSocket } from "../support/raw_ws.ts";
import { mb, startNodeChild } from "./support.ts";

const DIM = 384;
const PER_SUB = 16;
const MAX_PER_REALITY = 4_000;
const QUOTA_EXCEEDED = 21;
const INVALID_ARGUMENT = 19;

/** A deterministic vector (never all zero). */
function vector(seed: number): Uint8Array {
  const v = new Float32Array(DIM);
  for (let i = 0; i < DIM; i++) v[i] = Math.sin(seed * 7.31 + i * 0.37) + 1.5;
  return new Uint8Array(v.buffer);
}

/** Subscribe frame with `anycast {vectors}` (Subscribe.anycast = 14, Embedding.values = 1). */
function anycastSubscribe(id: number, pattern: string, count: number, seed: number): Uint8Array {
  const vectors: PbField[] = [];
  for (let i = 0; i < count; i++) vectors.push([1, [[1, vector(seed * 100 + i)]]]);
  return pb([[F.subscribe, [[1, id], [3, pattern], [12, id], [14, vectors]]]]);
}

async function client(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, "arqon.v1.proto");
  s.send(pb([[F.hello, [[1, name], [2, 1]]]]));
  await s.wait(F.welcome);
  return s;
}

/** The Subscribed or Error frame answering subscription `id` (correlation id = id). */
async function answerTo(s: RawSocket, id: number): Promise<[number, PbMessage]> {
  let found: [number, PbMessage] | undefined;
  await s.until(() => {
    found = s.received.find(([k, m]) =>
      (k === F.subscribed && num(m, 2) === id) || (k === F.error && num(m, 3) === id)
    );
    return found !== undefined;
  }, `answer to subscription ${id}`);
  return found!;
}

Deno.test("anycast bounds: a full reality refuses more embeddings (typed), RSS stays flat, others served", async () => {
  const node = await startNodeChild([
    "--anycast-dim",
    String(DIM),
    "--anycast-max-per-reality",
    String(MAX_PER_REALITY),
    // Exact search throughout: this test is about the bound, not the graph's build time.
    "--anycast-exact-max",
    String(MAX_PER_REALITY),
  ]);
  const sockets: RawSocket[] = [];
  try {
    const filler = await client(node.wsUrl, "filler");
    const greedy = await client(node.wsUrl, "greedy");
    const polite = await client(node.wsUrl, "polite");
    sockets.push(filler, greedy, polite);
    const base = node.rss();

    // Fill the reality: 250 subscriptions x 16 vectors = 4,000 embeddings (sent 50 at a time).
    for (let first = 1; first <= MAX_PER_REALITY / PER_SUB; first += 50) {
      for (let id = first; id < first + 50; id++) {
        filler.send(anycastSubscribe(id, "work.task", PER_SUB, id));
      }
      await filler.until(
        () => filler.received.filter(([k]) => k === F.subscribed || k === F.error).length === 50,
        `subscriptions ${first}..${first + 49}`,
      );
      const refused = filler.received.find(([k]) => k === F.error);
      assert.equal(refused, undefined, refused && str(refused[1], 2));
      filler.received.length = 0;
    }
    const full = node.rss();

    // Driven past, ten times over: every attempt a typed QUOTA_EXCEEDED, nothing kept.
    for (let round = 0; round < 10; round++) {
      for (let i = 1; i <= 250; i++) {
        const id = round * 1000 + i;
        greedy.send(anycastSubscribe(id, "work.task", PER_SUB, 5000 + id));
      }
      await greedy.until(
        () => greedy.received.filter(([k]) => k === F.error || k === F.subscribed).length === 250,
        `round ${round} answered`,
      );
      assert.equal(greedy.received.filter(([k]) => k === F.subscribed).length, 0);
      for (const [, m] of greedy.received.filter(([k]) => k === F.error)) {
        assert.equal(num(m, 1), QUOTA_EXCEEDED, str(m, 2));
      }
      greedy.received.length = 0;
    }
    // More vectors than one subscription may register: INVALID_ARGUMENT.
    greedy.send(anycastSubscribe(99_999, "work.task", PER_SUB + 1, 1));
    const [kind, m] = await answerTo(greedy, 99_999);
    assert.equal(kind, F.error);
    assert.equal(num(m, 1), INVALID_ARGUMENT, str(m, 2));
    const after = node.rss();
    console.log(
      `  RSS: base ${mb(base)}, reality full (4,000 x 384) ${mb(full)}, ` +
        `after 2,500 refused registrations ${mb(after)}`,
    );
    // 4,000 x 384 float32 is ~6 MB; the refused 2,500 x 16 vectors (61 MB as float32, twice
    // that as numbers) must not stay: growth after the fill is bounded below what keeping
    // them would cost (what remains is the frames' garbage, collected late).
    assert.ok(after - full < 40 * 1024 * 1024, `refusals grew RSS by ${mb(after - full)}`);
    assert.ok(after - base < 160 * 1024 * 1024, `the bound let RSS grow by ${mb(after - base)}`);

    // The polite client is still served: a plain publish to its own subscription, and an
    // anycast publish that reaches one of the filler's subscriptions.
    polite.send(pb([[F.subscribe, [[1, 1], [3, "chat.*"], [12, 1]]]]));
    await polite.until(() => polite.received.some(([k]) => k === F.subscribed), "subscribed");
    polite.send(pb([[F.publish, [[1, 7], [2, 1], [3, [[3, "chat.hi"], [11, vector(1)]]]]]]));
    await polite.until(() => polite.received.some(([k]) => k === F.deliver), "plain delivery");
    polite.send(pb([[F.publish, [
      [1, 8],
      [2, 1],
      [3, [[3, "work.task"], [11, new TextEncoder().encode("job")]]],
      [4, [[1, vector(42)]]],
    ]]]));
    await polite.until(
      () => polite.received.some(([k, m]) => k === F.ack && num(m, 1) === 8),
      "anycast publish acknowledged",
    );
    await filler.until(() => filler.received.some(([k]) => k === F.deliver), "anycast delivery");
    assert.ok(node.alive());
  } finally {
    await Promise.all(sockets.map((s) => s.close().catch(() => {})));
    await node.stop();
  }
});
