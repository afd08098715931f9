import assert from "node:assert/strict";
import { type BusError, decodeFrameJson, frameCodec, type FrameReader } from "./mod.ts";

/** The refusal of `text`: code, correlation id and message. */
function refusal(text: string): { code: string; correlationId: number; message: string } {
  try {
    decodeFrameJson(text);
  } catch (err) {
    const e = err as BusError & { correlationId?: number };
    return { code: e.code, correlationId: e.correlationId ?? 0, message: e.message };
  }
  throw new Error(`accepted: ${text}`);
}

Deno.test("json mapping: proto field names are accepted beside lowerCamelCase names", () => {
  const frame = decodeFrameJson(
    '{"publish":{"correlation_id":11,"ack":1,"pulse":{"topic":"raw.b","reality_id":"rawj"}}}',
  );
  assert.equal(frame.publish?.correlationId, 11);
  assert.equal(frame.publish?.pulse?.realityId, "rawj");
  const hist = decodeFrameJson('{"history_get":{"correlation_id":"3","from_sequence":"2"}}');
  assert.equal(hist.kind, "historyGet");
  assert.equal(hist.historyGet?.fromSequence, 2);
});

Deno.test("json mapping: a JSON-valued payload is refused, blaming the payload", () => {
  const r = refusal(
    '{"publish":{"correlationId":"12","ack":1,"pulse":{"topic":"a.b","payload":{"x":1}}}}',
  );
  assert.equal(r.code, "INVALID_FRAME");
  assert.equal(r.correlationId, 12);
  assert.match(r.message, /^publish\.pulse\.payload: /);
  const bad = refusal('{"publish":{"correlationId":"13","pulse":{"topic":"a.b","payload":"!!"}}}');
  assert.match(bad.message, /^publish\.pulse\.payload: /);
  assert.doesNotMatch(bad.message, /correlationId/);
});

Deno.test("json mapping: base64 standard and URL-safe, padded or not", () => {
  for (const text of ["+/8=", "+/8", "-_8=", "-_8", "AQID", ""]) {
    const frame = decodeFrameJson(
      JSON.stringify({ publish: { pulse: { topic: "a", payload: text } } }),
    );
    const expected = text === "AQID" ? [1, 2, 3] : text === "" ? [] : [0xfb, 0xff];
    assert.deepEqual(Array.from(frame.publish!.pulse!.payload!), expected, text);
  }
  for (const text of ["A", "AB=C", "AQID=", "A B=", "AQ==="]) {
    assert.equal(
      refusal(JSON.stringify({ publish: { pulse: { topic: "a", payload: text } } })).code,
      "INVALID_FRAME",
      text,
    );
  }
});

Deno.test("json mapping: unknown fields are refused, naming them", () => {
  const r = refusal('{"publish":{"correlationId":"5","pulse":{"topic":"a","colour":"red"}}}');
  assert.equal(r.code, "INVALID_FRAME");
  assert.equal(r.correlationId, 5);
  assert.match(r.message, /publish\.pulse\.colour/);
  assert.equal(refusal('{"nothing":{}}').code, "UNKNOWN_FRAME");
});

Deno.test("json mapping: a frame with two kinds is refused with its correlation id", () => {
  const r = refusal('{"publish":{"correlationId":"7","pulse":{"topic":"a"}},"ping":{"nonce":"1"}}');
  assert.equal(r.code, "INVALID_FRAME");
  assert.equal(r.correlationId, 7);
  assert.match(r.message, /both set/);
});

Deno.test("json mapping: uint64 refuses negative, NaN and fractional values; echoes decimals", () => {
  for (
    const nonce of ['"-1"', "-1", '"NaN"', "1.5", '"abc"', '" 1"', "true", '"18446744073709551616"']
  ) {
    assert.equal(refusal(`{"ping":{"nonce":${nonce}}}`).code, "INVALID_FRAME", nonce);
  }
  const json = frameCodec("json");
  for (const nonce of ['"7"', "7", '"7e0"', "7.0"]) {
    const frame = json.decode(`{"ping":{"nonce":${nonce}}}`);
    assert.equal(json.encode({ pong: { nonce: frame.ping!.nonce } }), '{"pong":{"nonce":"7"}}');
  }
});

Deno.test("json mapping: a field given under both names, or a duplicate key, is refused", () => {
  const both = refusal('{"publish":{"correlationId":"8","correlation_id":"8"}}');
  assert.equal(both.code, "INVALID_FRAME");
  assert.equal(both.correlationId, 8);
  const dup = refusal('{"publish":{"correlationId":"9","pulse":{"topic":"a.b","topic":"c.d"}}}');
  assert.equal(dup.code, "INVALID_FRAME");
  assert.equal(dup.correlationId, 9);
  assert.match(dup.message, /publish\.pulse\.topic: duplicate key/);
  const escaped = refusal('{"ping":{"nonce":"1","\\u006eonce":"2"}}');
  assert.match(escaped.message, /duplicate/);
});

Deno.test("json mapping: enums by name or number; wrong types refused", () => {
  const frame = decodeFrameJson('{"subscribe":{"overflow":"OVERFLOW_POLICY_DROP_NEW","start":1}}');
  assert.equal(frame.subscribe?.overflow, 2);
  assert.equal(frame.subscribe?.start, 1);
  assert.equal(refusal('{"subscribe":{"overflow":"DROP_NEW"}}').code, "INVALID_FRAME");
  assert.equal(refusal('{"subscribe":{"pattern":5}}').code, "INVALID_FRAME");
  assert.equal(refusal('{"pulse":{}}').code, "UNKNOWN_FRAME");
  assert.equal(refusal('{"publish":{"pulse":{"ghost":"true"}}}').code, "INVALID_FRAME");
  assert.equal(refusal('{"subscribe":{"maxQueueBytes":4294967296}}').code, "INVALID_FRAME");
  assert.equal(refusal('{"publish":{"pulse":{"topic":"\\ud800"}}}').code, "INVALID_UTF8");
  // null is the default value.
  assert.equal(decodeFrameJson('{"publish":{"correlationId":null,"pulse":null}}').kind, "publish");
});

Deno.test("json mapping: a bad batch member is answered alone, with its correlation id", () => {
  const seen: string[] = [];
  const reader: FrameReader = {
    publish: () => seen.push("raw publish"),
    frame: (f, kind) => seen.push(`${kind} ${f.publish?.correlationId ?? ""}`),
    error: (e) => seen.push(`error ${e.code} ${(e as { correlationId?: number }).correlationId}`),
  };
  const json = frameCodec("json");
  const text = JSON.stringify({
    batch: {
      frames: [
        { publish: { correlation_id: "1", pulse: { topic: "a" } } },
        { publish: { correlationId: "2", pulse: { topic: "a", payload: [1, 2] } } },
        { publish: { correlationId: "3", pulse: { topic: "a" } } },
      ],
    },
  });
  assert.equal(json.read(text, reader), true);
  assert.deepEqual(seen, ["publish 1", "error INVALID_FRAME 2", "publish 3"]);
});
