import assert from "node:assert/strict";
import {
  BatchBuilder,
  type BusError,
  decodeFrame,
  decodeFrameJson,
  decodePulse,
  encodeFrame,
  encodeFrameJson,
  encodePublishFrame,
  encodePulse,
  errorCodeName,
  errorCodeValue,
  frameToJsonObject,
  type IPulse,
  PulseView,
  scanFrames,
  stampSuffix,
} from "./mod.ts";
import { concatBytes, peekPublishReality } from "./wire.ts";

const payload = new TextEncoder().encode("x".repeat(1000));

Deno.test("batch builder wraps encoded frames and deliveries into one Frame{batch}", () => {
  const pulse = encodePulse({ id: "a", sequence: 7, topic: "t.x", payload });
  const b = new BatchBuilder();
  b.addDeliver(3, pulse);
  b.addDeliver(300_000, pulse.subarray(0, 10), pulse.subarray(10));
  b.addFrame(encodeFrame({ ack: { correlationId: 2 ** 40, sequence: 9 } }));
  const f = decodeFrame(b.finish());
  assert.equal(f.kind, "batch");
  const [d1, d2, ack] = f.batch!.frames!;
  assert.equal(d1.deliver!.subscriptionId, 3);
  assert.equal(d2.deliver!.subscriptionId, 300_000);
  assert.deepEqual(d2.deliver!.pulse!.payload, d1.deliver!.pulse!.payload);
  assert.equal(d2.deliver!.pulse!.sequence, 7);
  assert.equal(ack.ack!.correlationId, 2 ** 40);
  const single = new BatchBuilder();
  single.addDeliver(1, pulse);
  assert.equal(decodeFrame(single.finish()).kind, "deliver", "one frame is sent unwrapped");
});

Deno.test("the stamp suffix overrides whatever the producer put in stamped fields", () => {
  const source = encodePulse({
    id: "forged",
    sequence: 99,
    producerId: "mallory",
    realityId: "other",
    timestamp: { wallMs: 5, logical: 9 },
    topic: "a.b",
    headers: { k: "v" },
    payload,
  });
  const stamp = stampSuffix("0190-ab", 2 ** 35, "prod-é", "default", {
    wallMs: 1_700_000_000_000,
    logical: 0,
  });
  const p = decodePulse(concatBytes(source, stamp));
  assert.equal(p.id, "0190-ab");
  assert.equal(p.sequence, 2 ** 35);
  assert.equal(p.producerId, "prod-é");
  assert.equal(p.realityId, "default");
  assert.deepEqual({ ...p.timestamp }, { wallMs: 1_700_000_000_000, logical: 0 });
  assert.deepEqual({ ...p.headers }, { k: "v" });
  assert.deepEqual(p.payload, payload);
});

Deno.test("hand-encoded publish frames decode identically with protobufjs; scanFrames finds them", () => {
  const pulse: IPulse = {
    topic: "orders.eu.créé",
    realityId: "lab",
    contentType: "application/json",
    headers: { a: "1", "ü": "ß" },
    traceContext: { traceparent: "00-x-y-01" },
    payload,
  };
  const fast = encodePublishFrame(2 ** 33, 1, pulse)!;
  const reference = decodeFrame(
    encodeFrame({ publish: { correlationId: 2 ** 33, ack: 1, pulse } }),
  );
  const decoded = decodeFrame(fast);
  assert.deepEqual(frameToJsonObject(decoded), frameToJsonObject(reference));
  assert.equal(decoded.publish!.pulse!.topic, "orders.eu.créé");
  assert.equal(
    encodePublishFrame(1, 1, { ...pulse, ghost: true }),
    null,
    "unusual fields fall back",
  );
  // Spectral metadata (operators' outputs): doubles and packed eigenvalues, as protobufjs.
  for (
    const spectral of [
      { coherence: 0.25, criticality: -1.5e-7, eigenvalues: [1, -0.5, 3.75e10] },
      { coherence: 1, criticality: 0, eigenvalues: [] },
      { coherence: 0, criticality: 0 },
    ]
  ) {
    const sp = { ...pulse, spectral, semtrace: ["a.b", "operator:x"] };
    assert.deepEqual(
      frameToJsonObject(decodeFrame(encodePublishFrame(3, 0, sp)!)),
      frameToJsonObject(decodeFrame(encodeFrame({ publish: { correlationId: 3, pulse: sp } }))),
    );
  }

  const seen: [number, number, string][] = [];
  const others: string[] = [];
  const b = new BatchBuilder();
  b.addFrame(fast);
  b.addFrame(encodeFrame({ ping: { nonce: 1 } }));
  assert.ok(scanFrames(b.finish(), {
    publish: (c, a, bytes) => seen.push([c, a, decodePulse(bytes).topic!]),
    other: (f) => others.push(decodeFrame(f).kind!),
    nestedBatch: () => others.push("nested"),
  }));
  assert.deepEqual(seen, [[2 ** 33, 1, "orders.eu.créé"]]);
  assert.deepEqual(others, ["ping"]);
  assert.equal(
    scanFrames(new Uint8Array([0x72, 0x05, 0x0a]), { publish() {}, other() {}, nestedBatch() {} }),
    false,
  );
});

Deno.test("decoding errors carry protocol codes", () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as BusError).code;
    }
    return "none";
  };
  assert.equal(code(() => decodeFrame(new Uint8Array([0xff, 0xff, 0xff]))), "INVALID_FRAME");
  assert.equal(code(() => decodeFrame(new Uint8Array([0xc8, 0x06, 0x00]))), "UNKNOWN_FRAME");
  // Frame{publish{pulse{topic: <C3 28>}}}
  assert.equal(
    code(() => decodeFrame(new Uint8Array([0x1a, 0x06, 0x1a, 0x04, 0x1a, 0x02, 0xc3, 0x28]))),
    "INVALID_UTF8",
  );
  assert.equal(code(() => decodeFrameJson("[1]")), "INVALID_FRAME");
  assert.equal(code(() => decodeFrameJson("{}")), "UNKNOWN_FRAME");
  assert.equal(errorCodeName(errorCodeValue("SLOW_CONSUMER")), "SLOW_CONSUMER");
});

Deno.test("JSON mapping round-trips with canonical names and encodings", () => {
  const text = encodeFrameJson({
    publish: {
      correlationId: 12,
      ack: 2,
      pulse: { topic: "a.b", payload: new Uint8Array([1, 2]) },
    },
  });
  assert.deepEqual(JSON.parse(text), {
    publish: {
      correlationId: "12",
      ack: "ACK_MODE_DURABLE",
      pulse: { topic: "a.b", payload: "AQI=" },
    },
  });
  const back = decodeFrameJson(text);
  assert.equal(back.publish!.correlationId, 12);
  assert.equal(back.publish!.ack, 2);
  assert.deepEqual([...back.publish!.pulse!.payload!], [1, 2]);
});

Deno.test("PulseView reads payload and sequence by scanning, the rest by decoding once", () => {
  const source = encodePulse({ topic: "a.b", payload, headers: { h: "1" }, sequence: 3 });
  const stamped = concatBytes(
    source,
    stampSuffix("id-1", 2 ** 40, "p", "r", { wallMs: 10, logical: 2 }),
  );
  const view = new PulseView(stamped);
  assert.equal(view.sequence, 2 ** 40, "the stamp's sequence wins");
  assert.deepEqual(view.payload, payload);
  assert.equal(view.topic, "a.b");
  assert.equal(view.id, "id-1");
  assert.deepEqual({ ...view.headers }, { h: "1" });
  assert.equal(JSON.parse(JSON.stringify(view)).realityId, "r");
  assert.throws(() => new PulseView(new Uint8Array([0x5a, 0x10, 0x01])), RangeError);
});

Deno.test("peekPublishReality reads the first publish's reality and nothing else", () => {
  const pulse = { topic: "a.b", realityId: "lab-7", payload: new Uint8Array([1, 2, 3]) };
  const hand = encodePublishFrame(1, 0, pulse)!;
  assert.equal(peekPublishReality(hand), "lab-7");
  assert.equal(peekPublishReality(encodeFrame({ publish: { correlationId: 5, pulse } })), "lab-7");
  assert.equal(
    peekPublishReality(encodeFrame({ publish: { pulse: { topic: "a", payload: pulse.payload } } })),
    "",
  );
  const batch = new BatchBuilder();
  batch.addFrame(hand);
  batch.addFrame(encodePublishFrame(2, 0, { ...pulse, realityId: "other" })!);
  assert.equal(peekPublishReality(batch.finish()), "lab-7");
  const pingFirst = new BatchBuilder();
  pingFirst.addFrame(encodeFrame({ ping: { nonce: 1 } }));
  pingFirst.addFrame(hand);
  assert.equal(peekPublishReality(pingFirst.finish()), undefined);
  assert.equal(peekPublishReality(encodeFrame({ ping: { nonce: 1 } })), undefined);
  // Truncated or garbage input is not an error here: the full decode reports it.
  assert.equal(peekPublishReality(hand.subarray(0, hand.length - 4)), undefined);
  assert.equal(peekPublishReality(new Uint8Array([0xff, 0xff, 0xff])), undefined);
  assert.equal(peekPublishReality(new Uint8Array(0)), undefined);
});
