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

Deno.test("an output with spectral metadata is left to the Spine's encoder", () => {
  const spectral = { coherence: 0.9, criticality: 0.1, eigenvalues: [1] };
  assert.equal(encodedOutput({ topic: "t", spectral }), undefined);
});
