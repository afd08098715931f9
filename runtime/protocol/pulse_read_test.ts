import assert from "node:assert/strict";
import { checkPulseBytes, concatBytes, decodePulse, encodePulse, PulseReader } from "./mod.ts";
import type { IPulse } from "./types.ts";

const enc = new TextEncoder();

/** A pulse as plain data, for comparing what two decoders built. */
function plain(p: IPulse): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(p)) {
    const v = (p as Record<string, unknown>)[key];
    out[key] = v instanceof Uint8Array ? [...v] : v;
  }
  return out;
}

// Raw field bytes: a varint field, a length-delimited one.
const varint = (field: number, n: number) => {
  const out = field < 16 ? [field << 3] : [(field << 3) & 0x7f | 0x80, field >> 4];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
};
const bytesField = (field: number, b: Uint8Array) => {
  const tag = field < 16 ? [(field << 3) | 2] : [((field << 3) | 2) & 0x7f | 0x80, field >> 4];
  return Uint8Array.from([...tag, b.length, ...b]); // lengths below 128 here
};
const text = (field: number, s: string) => bytesField(field, enc.encode(s));

Deno.test("PulseReader builds what protobufjs decodes, the last of repeated fields included", () => {
  const reader = new PulseReader();
  const cases: [string, Uint8Array][] = [
    ["topic and payload", encodePulse({ topic: "a.b", payload: Uint8Array.of(1, 2, 3) })],
    ["empty pulse", new Uint8Array(0)],
    [
      "every field it reads",
      encodePulse({
        id: "019a3f4e-8b2c-7000-8a1b-2c3d4e5f6a7b",
        sequence: 2 ** 40 + 3,
        topic: "orders.eu",
        producerId: "operator:sum",
        realityId: "lab",
        contentType: "application/json",
        payload: enc.encode('{"x":1}'),
        syncId: "s-1",
        entropySeed: 2 ** 48 - 1,
        ghost: true,
        replyTo: "_INBOX.x",
        semtrace: ["in.a", "operator:sum"],
        lane: 3,
      }),
    ],
    [
      "non-ASCII strings",
      encodePulse({ topic: "caf\u00e9.\u6771\u4eac", contentType: "t/\u00fc" }),
    ],
    ["a long topic", encodePulse({ topic: "t." + "x".repeat(300) })],
    // Protobuf keeps the last value of a repeated scalar or string field.
    ["topic twice", concatBytes(text(3, "first.topic"), text(11, "p"), text(3, "second.topic"))],
    ["reality twice", concatBytes(text(5, "r1"), text(3, "t"), text(5, "r2"))],
    ["payload twice", concatBytes(text(11, "one"), text(3, "t"), text(11, "two"))],
    ["lane twice", concatBytes(text(3, "t"), varint(19, 2), varint(19, 3))],
    ["ghost with high bits only", concatBytes(text(3, "t"), varint(15, 2 ** 33))],
    ["lane past 32 bits", concatBytes(text(3, "t"), varint(19, 2 ** 32 + 2))],
    ["semtrace entries", concatBytes(text(18, "a"), text(3, "t"), text(18, "b"))],
  ];
  for (const [why, bytes] of cases) {
    assert.equal(checkPulseBytes(bytes), undefined, `${why}: valid`);
    // Twice: the second read takes the remembered strings.
    for (let i = 0; i < 2; i++) {
      const fast = reader.read(bytes);
      assert.ok(fast, `${why}: read`);
      assert.deepEqual(plain(fast), plain(decodePulse(bytes)), why);
      assert.equal(Object.getPrototypeOf(fast), Object.getPrototypeOf(decodePulse(bytes)), why);
    }
  }
  // A repeated topic of the same length but other bytes is not taken from memory.
  const a = reader.read(encodePulse({ topic: "abc.one" }))!;
  const b = reader.read(encodePulse({ topic: "abc.two" }))!;
  assert.deepEqual([a.topic, b.topic], ["abc.one", "abc.two"]);
});

Deno.test("PulseReader leaves maps, timestamps, spectral data, vectors and big varints to protobufjs", () => {
  const reader = new PulseReader();
  const left: [string, Uint8Array][] = [
    ["headers", encodePulse({ topic: "t", headers: { a: "b" } })],
    ["trace context", encodePulse({ topic: "t", traceContext: { traceparent: "00-x" } })],
    ["timestamp", encodePulse({ topic: "t", timestamp: { wallMs: 5, logical: 1 } })],
    ["spectral", encodePulse({ topic: "t", spectral: { coherence: 0.5 } })],
    ["intent vector", encodePulse({ topic: "t", intentVector: [1, 2] })],
    ["vector clock", encodePulse({ topic: "t", vclock: { r: 3 } })],
    ["unknown field", concatBytes(text(3, "t"), varint(100, 42))],
    ["a sequence of 2^52", concatBytes(text(3, "t"), varint(2, 2 ** 52))],
  ];
  for (const [why, bytes] of left) {
    assert.equal(checkPulseBytes(bytes), undefined, `${why}: valid`);
    assert.equal(reader.read(bytes), undefined, why);
  }
});
