/**
 * Crash safety end to end: a node runs as a child process, several WebSocket clients
 * publish with durable acks, the node is SIGKILLed at random moments and restarted on the
 * same data directory. After every restart each acknowledged id must be stored exactly
 * once, with the sequence its ack reported, and the sequences must be contiguous.
 *
 * `ARQON_CRASH_CYCLES` raises the number of cycles for a soak run (default 20).
 */
import assert from "node:assert/strict";
import { ArqonClient } from "../runtime/client/mod.ts";
import { NodeProcess } from "./store_node_process.ts";

const CYCLES = Number(Deno.env.get("ARQON_CRASH_CYCLES") ?? 20);
const CLIENTS = 4;
const IN_FLIGHT = 64;
const REALITY = "crash";

/** Deterministic schedule (the kill timing itself still races the clients, as it should). */
function prng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

async function publishUntilKilled(
  wsUrl: string,
  client: number,
  cycle: number,
  acked: Map<string, number>,
): Promise<void> {
  let conn: ArqonClient;
  try {
    conn = await ArqonClient.connect(wsUrl, { name: `c${client}`, reconnect: false });
  } catch {
    return; // killed before this client connected
  }
  const encoder = new TextEncoder();
  let n = 0;
  const inFlight = new Set<Promise<void>>();
  let alive = true;
  while (alive) {
    const id = `c${client}-k${cycle}-${n++}`;
    const p: Promise<void> = conn.publish("crash.test", encoder.encode(id), {
      reality: REALITY,
      ack: "durable",
    }).then(
      (ack) => {
        acked.set(id, ack!.sequence);
      },
      () => {
        alive = false; // the node died; this publish may or may not have been stored
      },
    ).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.allSettled(inFlight);
  await conn.close().catch(() => {});
}

async function storedIds(node: NodeProcess): Promise<{ id: string; sequence: number }[]> {
  const res = await fetch(`${node.url}/v1/realities/${REALITY}/history`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const decoder = new TextDecoder();
  return text.split("\n").filter((line) => line.length > 0).map((line) => {
    const pulse = JSON.parse(line);
    const bytes = Uint8Array.from(atob(pulse.payload), (c) => c.charCodeAt(0));
    return { id: decoder.decode(bytes), sequence: Number(pulse.sequence) };
  });
}

function verify(stored: { id: string; sequence: number }[], acked: Map<string, number>): void {
  stored.forEach((p, i) => assert.equal(p.sequence, i + 1, "sequences must be contiguous"));
  const seen = new Map<string, number>();
  for (const p of stored) {
    assert.equal(seen.has(p.id), false, `${p.id} stored twice`);
    seen.set(p.id, p.sequence);
  }
  for (const [id, sequence] of acked) {
    assert.equal(seen.get(id), sequence, `acked ${id} (sequence ${sequence}) must be stored`);
  }
}

Deno.test({
  name: "crash: durable acks survive repeated SIGKILL, exactly once, contiguous",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "arqon-crash-" });
    const random = prng(0xa11ce);
    const acked = new Map<string, number>();
    const syncs = ["batch", "always", "os"] as const;
    try {
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const node = await NodeProcess.start(dir, ["--sync", syncs[cycle % syncs.length]]);
        if (cycle === 0) {
          const res = await fetch(`${node.url}/v1/realities/${REALITY}`, {
            method: "PUT",
            body: JSON.stringify({ retention: [{ pattern: ">" }] }),
          });
          assert.equal(res.status, 201);
          await res.body?.cancel();
        } else {
          verify(await storedIds(node), acked);
        }
        const publishers = Array.from(
          { length: CLIENTS },
          (_, c) => publishUntilKilled(node.wsUrl, c, cycle, acked),
        );
        await new Promise((r) => setTimeout(r, 50 + random() * 400));
        node.kill("SIGKILL");
        await Promise.all(publishers);
        await node.exited();
      }
      const node = await NodeProcess.start(dir, []);
      try {
        const stored = await storedIds(node);
        verify(stored, acked);
        assert.ok(acked.size > CYCLES * 10, `too few acks to prove anything: ${acked.size}`);
        console.log(`${CYCLES} SIGKILL cycles: ${acked.size} acked, ${stored.length} stored`);
      } finally {
        node.kill("SIGKILL");
        await node.exited();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
