import assert from "node:assert/strict";
import { decodePulse, type IPulse } from "../runtime/protocol/mod.ts";
import { encodedOutput } from "./output_bytes.ts";

Deno.test("an output's hand encoding decodes to the same pulse (large fields, unicode)", () => {
  const pulse: IPulse = {
    topic: "sums.ü",
    realityId: "default",
    headers: { "arqon-hops": "1", "x-k": "v".repeat(300) },
    contentType: "application/json",
    payload: new Uint8Array(70_000).map((_, i) => i & 255),
    traceContext: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
    spectral: null,
  };
  const bytes = encodedOutput(pulse)!;
  const back = decodePulse(bytes);
  assert.equal(back.topic, pulse.topic);
  assert.equal(back.realityId, pulse.realityId);
  assert.deepEqual({ ...back.headers }, pulse.headers);
  assert.equal(back.contentType, pulse.contentType);
  assert.deepEqual(new Uint8Array(back.payload!), pulse.payload);
  assert.deepEqual({ ...back.traceContext }, pulse.traceContext);
  const small = decodePulse(encodedOutput({ topic: "t", payload: new Uint8Array([1]) })!);
  assert.equal(small.topic, "t");
  assert.deepEqual([...small.payload!], [1]);
});

Deno.test("an output with spectral metadata is hand-encoded too; a reply topic is not", () => {
  // The hand encoder writes spectral metadata since 65b757e (mesh-coherence's outputs).
  const spectral = { coherence: 0.9, criticality: 0.1, eigenvalues: [1, -2.5] };
  const back = decodePulse(encodedOutput({ topic: "t", spectral })!);
  assert.equal(back.spectral?.coherence, 0.9);
  assert.equal(back.spectral?.criticality, 0.1);
  assert.deepEqual([...back.spectral!.eigenvalues!], [1, -2.5]);
  assert.equal(encodedOutput({ topic: "t", replyTo: "_inbox.x" }), undefined);
});

Deno.test("outputs carved from the shared slab stay intact after many more (slab rollover)", () => {
  // 3,000 outputs of ~1 KiB: several 64 KiB slabs; every earlier encoding must still decode
  // to its own pulse (a slab is never rewritten while an output cut from it lives).
  const kept: [number, Uint8Array][] = [];
  for (let i = 0; i < 3000; i++) {
    const payload = new Uint8Array(900 + (i % 200)).fill(i & 255);
    kept.push([i, encodedOutput({ topic: `t.${i}`, headers: { "arqon-hops": "1" }, payload })!]);
  }
  for (const [i, bytes] of kept) {
    const back = decodePulse(bytes);
    assert.equal(back.topic, `t.${i}`);
    assert.equal(back.payload!.length, 900 + (i % 200));
    assert.ok(back.payload!.every((b) => b === (i & 255)), `payload of output ${i}`);
  }
  const big = encodedOutput({ topic: "big", payload: new Uint8Array(200_000).fill(7) })!;
  assert.equal(decodePulse(big).payload!.length, 200_000);
});
