import assert from "node:assert/strict";
import { encodePulse } from "./codec.ts";
import { pulseBytesError } from "./pulse_check.ts";

Deno.test("pulse check: every field the schema declares, as protobufjs encodes it, passes", () => {
  const bytes = encodePulse({
    id: "01890000-0000-7000-8000-000000000000",
    sequence: 2 ** 40,
    topic: "a.b",
    producerId: "prödücer",
    realityId: "lab",
    timestamp: { wallMs: Date.now(), logical: 7 },
    traceContext: { traceparent: "00-abc-def-01" },
    spectral: { coherence: 0.5, criticality: 1.5, eigenvalues: [1, 2, 3] },
    headers: { "x-ü": "ÿ", empty: "" },
    contentType: "application/json",
    payload: new Uint8Array([0, 0xff, 0x80]),
    syncId: "s",
    intentVector: [0.25, 0.5],
    entropySeed: 12345,
    ghost: true,
    replyTo: "x.y",
  });
  assert.equal(pulseBytesError(bytes), undefined);
  assert.equal(pulseBytesError(new Uint8Array(0)), undefined);
});

Deno.test("pulse check: malformed bytes say what is wrong and where", () => {
  const cases: [number[], RegExp][] = [
    [[0x00, 0x01], /field number 0 at byte 0/],
    [[0x1a, 0x05, 0x61], /runs past its message/],
    [[0x18, 0x01], /field 3 has wire type 0, expected 2/],
    [[0x0b], /wire type 3/],
    [[0x32, 0x02, 0x00, 0x00], /in field 6: field number 0/],
    [[0x1a, 0x01, 0xc3], /not valid UTF-8/],
    [[0x70, ...new Array(10).fill(0x80), 0x01], /over-long varint/],
    [[0x6a, 0x03, 0, 0, 0], /packed field 13 of 3 bytes/],
    [[0x80], /truncated or over-long tag/],
  ];
  for (const [bytes, why] of cases) {
    assert.match(pulseBytesError(new Uint8Array(bytes)) ?? "valid", why, JSON.stringify(bytes));
  }
});
