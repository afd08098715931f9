import assert from "node:assert/strict";
import { decodePulse, encodePulse, type IPulse } from "../protocol/mod.ts";
import { stampEntropy } from "../spine/mod.ts";
import { storedPulse } from "./stored_pulse.ts";

function stored(fields: Partial<IPulse>): Uint8Array {
  return encodePulse({
    id: "0193a8d2-7c1e-7abc-8def-0123456789ab",
    topic: "x.data",
    realityId: "r",
    producerId: "client-1",
    payload: Uint8Array.from({ length: 1024 }, (_, i) => i & 0xff),
    ...fields,
  } as IPulse);
}

Deno.test("storedPulse: the stream sequence and the derived seed, in the pulse and its bytes", () => {
  // The message as it sits in a socket chunk: a view with bytes around it.
  const message = stored({});
  const chunk = new Uint8Array(message.length + 100).fill(0xee);
  chunk.set(message, 40);
  const data = chunk.subarray(40, 40 + message.length);
  for (const seq of [1, 127, 128, 300_000, 2 ** 52 + 5]) {
    const s = storedPulse("r", data, seq);
    assert.equal(Number(s.pulse.sequence), seq);
    // The seed every node derives for that sequence (docs/time.md).
    const expected = decodePulse(message);
    stampEntropy(expected, "r", seq);
    assert.equal(Number(s.pulse.entropySeed), Number(expected.entropySeed));
    assert.notEqual(Number(s.pulse.entropySeed), 0);
    // The bytes decode to the same pulse (protobufjs, the reference decoder here).
    const again = decodePulse(s.bytes);
    assert.equal(Number(again.sequence), seq);
    assert.equal(Number(again.entropySeed), Number(expected.entropySeed));
    assert.equal(again.topic, "x.data");
    // (as plain bytes: protobufjs gives a Buffer when it decodes one)
    const payload = new Uint8Array(expected.payload!);
    assert.deepEqual(new Uint8Array(again.payload!), payload);
    assert.deepEqual(new Uint8Array(s.pulse.payload!), payload);
    // Nothing of the pulse refers to the socket chunk (a queued pulse does not keep it).
    assert.notEqual(s.pulse.payload!.buffer, chunk.buffer);
    assert.notEqual(s.bytes.buffer, chunk.buffer);
  }
  // The chunk is left as it was.
  assert.deepEqual(chunk.subarray(40, 40 + message.length), new Uint8Array(message));
});

Deno.test("storedPulse: a pulse stored with its own seed keeps it; bytes that are no pulse throw", () => {
  const data = stored({ entropySeed: 987_654_321 });
  const s = storedPulse("r", data, 42);
  assert.equal(Number(s.pulse.entropySeed), 987_654_321);
  assert.equal(Number(decodePulse(s.bytes).entropySeed), 987_654_321);
  // Only the sequence field was appended (tag and one varint byte).
  assert.equal(s.bytes.length, data.length + 2);
  assert.throws(() => storedPulse("r", Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0x0f), 1));
});
