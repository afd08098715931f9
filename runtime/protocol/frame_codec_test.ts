import assert from "node:assert/strict";
import {
  BatchBuilder,
  BusError,
  codecOf,
  decodeFrame,
  type DeliveryPulse,
  encodeFrame,
  encodePublishFrame,
  encodePulse,
  type FrameCodec,
  frameCodec,
  type FrameReader,
  type IFrame,
  JSON_CODEC,
  PROTO_CODEC,
  pulseToJsonObject,
  SUBPROTOCOL_JSON,
  SUBPROTOCOL_PROTO,
} from "./mod.ts";

/** Records what a codec's `read` hands out. */
function recorder() {
  const seen: string[] = [];
  const reader: FrameReader = {
    publish: (c, a, pulse) => seen.push(`publish ${c} ${a} ${pulse.length}`),
    frame: (f, kind) =>
      seen.push(`${kind}${kind === "publish" ? ` ${f.publish!.correlationId}` : ""}`),
    error: (e) => seen.push(`error ${e.code}`),
  };
  return { seen, reader };
}

function delivery(topic: string, payload: Uint8Array): DeliveryPulse {
  const pulse = { topic, payload, realityId: "r" };
  const bytes = encodePulse(pulse);
  return {
    parts: [bytes.subarray(0, 3), bytes.subarray(3)],
    json: pulseToJsonObject(pulse),
    size: 100,
  };
}

Deno.test("frame codec: names, subprotocols, and the codec of a received message", () => {
  assert.equal(PROTO_CODEC.subprotocol, SUBPROTOCOL_PROTO);
  assert.equal(JSON_CODEC.subprotocol, SUBPROTOCOL_JSON);
  assert.equal(frameCodec("proto"), PROTO_CODEC);
  assert.equal(frameCodec("json"), JSON_CODEC);
  assert.equal(codecOf("{}"), JSON_CODEC);
  assert.equal(codecOf(new Uint8Array(1)), PROTO_CODEC);
  assert.equal(JSON_CODEC.sizeOf("abc"), 3);
  assert.equal(PROTO_CODEC.sizeOf(new Uint8Array(5)), 5);
});

for (const codec of [PROTO_CODEC, JSON_CODEC]) {
  Deno.test(`frame codec ${codec.format}: frames round-trip`, () => {
    const frames: IFrame[] = [
      { hello: { protocolVersion: 1, clientName: "c" } },
      { subscribe: { subscriptionId: 3, realityId: "r", pattern: "a.>", correlationId: 9 } },
      { ping: { nonce: 42 } },
      { error: { code: 5, message: "m", correlationId: 7 } },
    ];
    for (const frame of frames) {
      const message = codec.encode(frame);
      assert.equal(typeof message, codec.format === "proto" ? "object" : "string");
      const back = codec.decode(message);
      const kind = Object.keys(frame)[0];
      assert.equal(back.kind, kind);
      // Same frame as the protobuf decoder sees it (64-bit fields as numbers).
      assert.deepEqual(
        JSON.parse(JSON.stringify(decodeFrame(encodeFrame(back)))),
        JSON.parse(JSON.stringify(decodeFrame(encodeFrame(frame)))),
      );
    }
  });

  Deno.test(`frame codec ${codec.format}: decode errors are typed BusErrors`, () => {
    const garbage = codec.format === "proto" ? new Uint8Array([0xff, 0xff, 0xff]) : "{nope";
    assert.throws(
      () => codec.decode(garbage),
      (e) => e instanceof BusError && e.code === "INVALID_FRAME",
    );
    const empty = codec.format === "proto" ? new Uint8Array(0) : "{}";
    assert.throws(
      () => codec.decode(empty),
      (e) => e instanceof BusError && e.code === "UNKNOWN_FRAME",
    );
    // The wrong message type for the codec.
    const other = codec.format === "proto" ? "{}" : new Uint8Array(0);
    assert.throws(
      () => codec.decode(other),
      (e) => e instanceof BusError && e.code === "INVALID_FRAME",
    );
  });

  Deno.test(`frame codec ${codec.format}: read walks a batch in order and reports bad members`, () => {
    const batch: IFrame = {
      batch: {
        frames: [
          { ping: { nonce: 1 } },
          {
            publish: {
              correlationId: 4,
              ack: 1,
              pulse: { topic: "t", payload: new Uint8Array(3) },
            },
          },
          { batch: { frames: [] } },
          { pong: { nonce: 2 } },
        ],
      },
    };
    const { seen, reader } = recorder();
    assert.equal(codec.read(codec.encode(batch), reader), true);
    const publish = codec.format === "proto"
      ? `publish 4 1 ${encodePulse({ topic: "t", payload: new Uint8Array(3) }).length}`
      : "publish 4";
    assert.deepEqual(seen, ["ping", publish, "error PROTOCOL_VIOLATION", "pong"]);
  });

  Deno.test(`frame codec ${codec.format}: an unreadable message is left to decode`, () => {
    const { seen, reader } = recorder();
    const bad = codec.format === "proto" ? new Uint8Array([0x72, 0x10, 1]) : "[1,2]";
    assert.equal(codec.read(bad, reader), false);
    assert.deepEqual(seen, []);
    assert.throws(() => codec.decode(bad), BusError);
  });

  Deno.test(`frame codec ${codec.format}: peeks the reality of a publish without decoding`, () => {
    const pub = { publish: { pulse: { realityId: "storm", topic: "t" } } };
    assert.equal(codec.peekPublishReality(codec.encode(pub)), "storm");
    assert.equal(
      codec.peekPublishReality(codec.encode({ publish: { pulse: { topic: "t" } } })),
      "",
    );
    assert.equal(codec.peekPublishReality(codec.encode({ ping: { nonce: 1 } })), undefined);
  });
}

Deno.test("frame codec proto: batches are the hand-written encoder's bytes", () => {
  const d = delivery("a.b", new Uint8Array([1, 2, 3]));
  const out = PROTO_CODEC.batch(1 << 20);
  assert.equal(out.finish(), null);
  out.addFrame({ ping: { nonce: 1 } });
  out.addDeliver(7, d);
  assert.equal(out.full, false);
  const expected = new BatchBuilder();
  expected.addFrame(encodeFrame({ ping: { nonce: 1 } }));
  expected.addDeliver(7, d.parts[0], d.parts[1]);
  assert.deepEqual(out.finish(), expected.finish());
  assert.equal(out.lastCount, 2);
  // One frame goes unwrapped.
  out.addFrame({ pong: { nonce: 3 } });
  assert.deepEqual(out.finish(), new Uint8Array(encodeFrame({ pong: { nonce: 3 } })));
  // The target size makes it full.
  const small = PROTO_CODEC.batch(10);
  small.addDeliver(1, d);
  assert.equal(small.full, true);
});

Deno.test("frame codec json: batches are canonical JSON, one frame unwrapped", () => {
  const d = delivery("a.b", new Uint8Array([1, 2, 3]));
  const out = JSON_CODEC.batch(0);
  out.addFrame({ ping: { nonce: 1 } });
  out.addDeliver(7, d);
  const text = out.finish() as string;
  assert.deepEqual(JSON.parse(text), {
    batch: {
      frames: [{ ping: { nonce: "1" } }, { deliver: { subscriptionId: 7, pulse: d.json } }],
    },
  });
  assert.equal(out.lastCount, 2);
  out.addFrame({ pong: { nonce: 2 } });
  assert.equal(out.finish(), JSON_CODEC.encode({ pong: { nonce: 2 } }));
  for (let i = 0; i < 256; i++) out.addFrame({ ping: { nonce: i } });
  assert.equal(out.full, true);
});

Deno.test("frame codec proto: publishes hand out their pulse bytes as sent", () => {
  const pulse = { topic: "x.y", payload: new Uint8Array([9, 9]) };
  const b = new BatchBuilder();
  b.addFrame(encodePublishFrame(1, 0, pulse)!);
  b.addFrame(encodePublishFrame(2, 1, pulse)!);
  const got: Uint8Array[] = [];
  const codec: FrameCodec = PROTO_CODEC;
  codec.read(b.finish(), {
    publish: (_c, _a, bytes) => got.push(bytes.slice()),
    frame: () => assert.fail("no other frame"),
    error: () => assert.fail("no error"),
  });
  const bytes = new Uint8Array(encodePulse(pulse));
  assert.deepEqual(got, [bytes, bytes]);
});

Deno.test("a batch whose length is 2^63, 2^53, 2^32 or past the end is refused, not taken as empty", () => {
  const varint = (n: bigint): number[] => {
    const out: number[] = [];
    do {
      out.push(Number(n & 0x7fn) | (n >= 0x80n ? 0x80 : 0));
      n >>= 7n;
    } while (n > 0n);
    return out;
  };
  const inner = [0x0a, 0x02, 0x62, 0x00]; // Batch.frames: one Frame{ping{}}
  for (const len of [1n << 63n, (1n << 64n) - 1n, 1n << 53n, 1n << 32n, 5n]) {
    const bytes = new Uint8Array([0x72, ...varint(len), ...inner]);
    const visitor = { publish() {}, other() {}, nestedBatch() {} };
    assert.equal(PROTO_CODEC.read(bytes, visitor as unknown as FrameReader), false);
    assert.throws(() => PROTO_CODEC.decode(bytes), (err: unknown) => {
      assert.ok(err instanceof BusError);
      assert.equal(err.code, "INVALID_FRAME", `length ${len}`);
      return true;
    });
  }
  // The same frames inside the batch, and a batch's own frame announcing too much.
  assert.throws(() => decodeFrame(new Uint8Array([0x72, 0x04, 0x0a, 0x09, 0x62, 0x00])), BusError);
  // A correct batch still decodes.
  const ok = decodeFrame(new Uint8Array([0x72, inner.length, ...inner]));
  assert.equal(ok.batch?.frames?.length, 1);
});

Deno.test("proto batch: finishInto writes at an offset the same bytes finish returns, then resets", () => {
  const pulse = (n: number): DeliveryPulse => {
    const bytes = encodePulse({ topic: `t.${n}`, payload: new Uint8Array(n * 100).fill(n) });
    // Producer bytes and a stamp, as the Spine hands them out.
    return { parts: [bytes.subarray(0, 5), bytes.subarray(5)], json: {}, size: bytes.length };
  };
  for (const count of [1, 3]) {
    const a = PROTO_CODEC.batch(1 << 20);
    const b = PROTO_CODEC.batch(1 << 20);
    for (let i = 1; i <= count; i++) {
      a.addDeliver(i, pulse(i));
      b.addDeliver(i, pulse(i));
    }
    // One delivery alone goes out unwrapped; more, with a control frame, as a batch.
    const frameCount = count === 1 ? 1 : count + 1;
    if (count > 1) {
      a.addFrame({ pong: { nonce: 9 } });
      b.addFrame({ pong: { nonce: 9 } });
    }
    const whole = a.finish() as Uint8Array;
    assert.equal(b.encodedLength, whole.length);
    const buf = new Uint8Array(whole.length + 7).fill(0xee);
    b.finishInto!(buf, 3);
    assert.deepEqual(buf.subarray(3, 3 + whole.length), whole);
    assert.deepEqual(
      [...buf.subarray(0, 3), ...buf.subarray(3 + whole.length)],
      Array(7).fill(0xee),
    );
    assert.equal(b.lastCount, frameCount);
    assert.equal(b.encodedLength, 0, "reset once written");
    const decoded = decodeFrame(whole);
    const frames = decoded.batch?.frames ?? [decoded];
    assert.equal(frames.length, frameCount);
    assert.equal(frames[count - 1].deliver!.pulse!.topic, `t.${count}`);
  }
  const c = PROTO_CODEC.batch(1 << 20);
  c.addDeliver(1, pulse(1));
  c.discard!();
  assert.equal(c.encodedLength, 0, "a discarded batch is empty");
  assert.equal(c.finish(), null);
});
