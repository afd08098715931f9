import assert from "node:assert/strict";
import { concatBytes, decodePulse, encodePulse, stampSuffix } from "../runtime/protocol/mod.ts";
import type { arqon } from "../runtime/protocol/mod.ts";
import { readInput } from "./input_read.ts";
import { toOperatorPulse } from "./input_pulse.ts";

const b = (s: string) => new TextEncoder().encode(s);

/** What the Worker uses of an input: the operator's view, the trace, the semantic trace. */
function used(p: arqon.v1.IPulse) {
  const view = toOperatorPulse(p);
  return {
    ...view,
    payload: [...view.payload],
    traceparent: p.traceContext?.traceparent ?? "",
    semtrace: [...(p.semtrace ?? [])],
  };
}

const cases: arqon.v1.IPulse[] = [
  { topic: "a.b", payload: b("x") },
  {
    id: "0190f0c2-aaaa-7bbb-8ccc-dddddddddddd",
    sequence: 123456789,
    topic: "sensors.é.1",
    producerId: "client:😀",
    realityId: "default",
    timestamp: { wallMs: 1_765_000_000_123, logical: 7 },
    traceContext: { traceparent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01" },
    headers: { z: "1", a: "ü", "arqon-hops": "3", "": "" },
    contentType: "application/json",
    payload: b('{"i":1,"v":2.5}'.repeat(40)),
    syncId: "s",
    intentVector: [1, 2.5, -3],
    entropySeed: 2 ** 52 + 11,
    ghost: true,
    replyTo: "_INBOX.x",
    semtrace: ["a", "operator:x", "b".repeat(30)],
    lane: 2,
    vclock: { default: 5, other: 9 },
  },
  { topic: "t", headers: { k: "v" }, payload: new Uint8Array(0) },
];

Deno.test("readInput reads what protobufjs reads of the fields the Worker uses", () => {
  for (const c of cases) {
    const bytes = encodePulse(c);
    const mine = readInput(bytes);
    assert.ok(mine, JSON.stringify(c.topic));
    assert.deepEqual(used(mine), used(decodePulse(bytes)));
  }
});

Deno.test("readInput reads a producer's bytes followed by the node's stamp as one pulse", () => {
  const source = encodePulse({ topic: "in.x", payload: b("p"), semtrace: ["up"], producerId: "x" });
  const stamp = stampSuffix(
    "0190f0c2-aaaa-7bbb-8ccc-dddddddddddd",
    42,
    "client:1",
    "r1",
    { wallMs: 1_765_000_000_000, logical: 3 },
    "in.x",
    987654321,
    { r1: 42, r0: 7 },
  );
  const bytes = concatBytes(source, stamp);
  const mine = readInput(bytes)!;
  assert.deepEqual(used(mine), used(decodePulse(bytes)));
  assert.equal(mine.producerId, "client:1");
  assert.deepEqual(mine.semtrace, ["up", "in.x"]);
  assert.equal(mine.entropySeed, 987654321);
});

Deno.test("readInput leaves spectral metadata, huge numbers and bad bytes to protobufjs", () => {
  assert.equal(
    readInput(encodePulse({ topic: "t", spectral: { coherence: 1, criticality: 0 } })),
    undefined,
  );
  // entropy_seed (14) = 2^64 - 1: more than a double holds exactly.
  const big = Uint8Array.of(0x1a, 1, 0x74, 0x70, ...Array(9).fill(0xff), 0x01);
  assert.equal(readInput(big), undefined);
  assert.ok(readInput(Uint8Array.of(0x1a, 1, 0x74, 0x70, 0x7f)));
  const ok = encodePulse({ topic: "topic", payload: b("hello") });
  assert.equal(readInput(ok.subarray(0, ok.length - 2)), undefined);
  assert.equal(readInput(Uint8Array.of(0x1a, 0x7f)), undefined);
  assert.equal(readInput(Uint8Array.of(0x07)), undefined);
});
