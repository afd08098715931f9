/**
 * The hand-written hot-path codecs (`wire.ts`, `batch.ts`, `pulse_view.ts`) agree with
 * `arqon.proto`: what they write, protobufjs reading the schema decodes to the intended
 * message (byte for byte where both encodings are canonical), and what protobufjs writes
 * from the schema, they read back. Cases are drawn from a seeded generator around the
 * varint and UTF-8 boundaries, so a failure reproduces.
 */
import assert from "node:assert/strict";
import protobuf from "protobufjs";
import { BatchBuilder } from "./batch.ts";
import type { IFrame, IPulse } from "./types.ts";
import { PulseView } from "./pulse_view.ts";
import {
  concatBytes,
  encodePublishFrame,
  peekPublishReality,
  scanFrames,
  stampSuffix,
} from "./wire.ts";
// Loads the runtime codec's protobufjs settings (uint64 as number) that the hand-written
// codecs assume; the messages below come from a root parsed here, not from the codec.
import "./schema.ts";

const schema = protobuf.parse(
  await Deno.readTextFile(new URL("./arqon.proto", import.meta.url)),
  { keepCase: false },
).root;
const Frame = schema.lookupType("arqon.v1.Frame");
const Pulse = schema.lookupType("arqon.v1.Pulse");
// Bytes as base64 so protobufjs's Buffers and plain Uint8Arrays compare equal; defaults
// filled in because proto3 scalars have no presence (an explicit 0 equals an absent field).
const AS_OBJECT = { longs: Number, bytes: String, defaults: true } as const;

/** Byte equality that names the first differing offset (Buffer and Uint8Array alike). */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, message: string): void {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(
        `${message}: byte ${i} is ${actual[i]}, the schema's encoding has ${expected[i]} ` +
          `(lengths ${actual.length} and ${expected.length})`,
      );
    }
  }
}

function encodeFrame(frame: IFrame): Uint8Array {
  const err = Frame.verify(frame as Record<string, unknown>);
  if (err) throw new Error(`test frame does not match the schema: ${err}`);
  return Frame.encode(Frame.fromObject(frame as Record<string, unknown>)).finish();
}
function encodePulse(pulse: IPulse): Uint8Array {
  return Pulse.encode(Pulse.fromObject(pulse as Record<string, unknown>)).finish();
}
/** A decoded message as a plain object without defaults, for deep comparison. */
function frameObject(bytes: Uint8Array): Record<string, unknown> {
  return Frame.toObject(Frame.decode(bytes), AS_OBJECT);
}
function pulseObject(bytes: Uint8Array): Record<string, unknown> {
  return Pulse.toObject(Pulse.decode(bytes), AS_OBJECT);
}

/** mulberry32: small, seeded, good enough to spread cases. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(0x5eed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];

/** Each side of every varint length step, for 32-bit fields. */
const U32 = [
  0,
  1,
  127,
  128,
  16_383,
  16_384,
  2 ** 21 - 1,
  2 ** 21,
  2 ** 28 - 1,
  2 ** 28,
  2 ** 32 - 1,
];
/** And for uint64 fields carried as numbers, up to 2^53 - 1. */
const U53 = [...U32, 2 ** 32, 2 ** 35 - 1, 2 ** 35, 2 ** 49, 2 ** 53 - 1];
const STRINGS = [
  "",
  "a",
  "orders.eu.created",
  "créé",
  "ü-ß",
  "日本語",
  "🚀 emoji",
  "x".repeat(200),
];
const ASCII = ["", "a", "0190f1e2-aaaa-7bbb-8ccc-0123456789ab", "id-".repeat(50)];

function randomBytes(): Uint8Array {
  const n = pick([0, 1, 127, 128, 300, 20_000]);
  return Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
}
function randomMap(): Record<string, string> {
  const out: Record<string, string> = {};
  const n = pick([0, 1, 3]);
  for (let i = 0; i < n; i++) out[pick(STRINGS) + i] = pick(STRINGS);
  return out;
}
/** A pulse with the fields `encodePublishFrame` handles itself. */
function simplePulse(): IPulse {
  const pulse: IPulse = {};
  if (random() < 0.9) pulse.topic = pick(STRINGS);
  if (random() < 0.5) pulse.realityId = pick(STRINGS);
  if (random() < 0.5) pulse.contentType = pick(STRINGS);
  if (random() < 0.5) pulse.headers = randomMap();
  if (random() < 0.3) pulse.traceContext = { traceparent: "00-" + pick(ASCII) + "-01" };
  if (random() < 0.9) pulse.payload = randomBytes();
  return pulse;
}
/** A pulse using any field, as a producer may send it. */
function anyPulse(): IPulse {
  return {
    ...simplePulse(),
    id: pick(ASCII),
    sequence: pick(U53),
    producerId: pick(STRINGS),
    timestamp: { wallMs: pick(U53), logical: pick(U32) },
    spectral: { coherence: 0.5, criticality: -1.25, eigenvalues: [1, 2.5] },
    syncId: pick(STRINGS),
    intentVector: [0.5, -2],
    entropySeed: pick(U53),
    ghost: random() < 0.5,
    replyTo: pick(STRINGS),
  };
}

Deno.test("BatchBuilder: deliveries and pre-encoded frames are the schema's Frame{batch}, byte for byte", () => {
  for (let round = 0; round < 200; round++) {
    const builder = new BatchBuilder();
    const frames: IFrame[] = [];
    const n = pick([1, 1, 2, 5, 20]);
    for (let i = 0; i < n; i++) {
      if (random() < 0.6) {
        const pulse = anyPulse();
        const subscriptionId = pick(U32);
        builder.addDeliver(subscriptionId, encodePulse(pulse));
        frames.push({ deliver: { subscriptionId, pulse } });
      } else {
        // What the node batches beside deliveries: acks, errors, confirmations, history.
        const frame: IFrame = pick<IFrame>([
          {
            ack: {
              correlationId: pick(U53),
              id: pick(ASCII),
              sequence: pick(U53),
              realityId: pick(STRINGS),
            },
          },
          {
            error: {
              code: 8,
              message: pick(STRINGS),
              subscriptionId: pick(U32),
              dropped: pick(U53),
            },
          },
          { subscribed: { correlationId: pick(U53), subscriptionId: pick(U32) } },
          { pong: { nonce: pick(U53) } },
          { historyChunk: { correlationId: pick(U53), pulses: [anyPulse()], done: true } },
        ]);
        builder.addFrame(encodeFrame(frame));
        frames.push(frame);
      }
    }
    const expected = encodeFrame(n === 1 ? frames[0] : { batch: { frames } });
    assert.equal(builder.encodedLength, expected.length);
    const out = new Uint8Array(builder.encodedLength);
    builder.finishInto(out);
    assertSameBytes(out, expected, `round ${round}: ${n} frames`);
    assert.equal(builder.count, 0, "finish resets the builder");
  }
});

Deno.test("BatchBuilder: a delivery of producer bytes plus the node's stamp decodes as the stamped pulse", () => {
  for (let round = 0; round < 100; round++) {
    const producer = anyPulse();
    const stamp = {
      id: pick(ASCII),
      sequence: pick(U53),
      producerId: pick(STRINGS),
      realityId: pick(STRINGS),
      timestamp: { wallMs: pick(U53), logical: pick(U32) },
    };
    const head = encodePulse(producer);
    const tail = stampSuffix(stamp.id, stamp.sequence, stamp.producerId, stamp.realityId, {
      ...stamp.timestamp,
    });
    const subscriptionId = pick(U32);
    const builder = new BatchBuilder();
    builder.addDeliver(subscriptionId, head, tail);
    // subscription_id is a uint32: the second delivery's id wraps instead of overflowing.
    const otherId = (subscriptionId + 1) % 2 ** 32;
    if (random() < 0.5) builder.addDeliver(otherId, concatBytes(head, tail));
    const two = builder.count === 2;
    const decoded = Frame.decode(builder.finish()) as unknown as IFrame;
    const delivers = two ? decoded.batch!.frames!.map((f) => f.deliver!) : [decoded.deliver!];
    const stamped = Pulse.toObject(Pulse.fromObject({ ...producer, ...stamp }), AS_OBJECT);
    for (const [i, deliver] of delivers.entries()) {
      assert.equal(deliver.subscriptionId, i === 0 ? subscriptionId : otherId);
      assert.deepEqual(
        Pulse.toObject(deliver.pulse as protobuf.Message, AS_OBJECT),
        stamped,
        `round ${round}`,
      );
    }
  }
});

Deno.test("stampSuffix is the schema's encoding of the stamped fields, byte for byte", () => {
  for (let round = 0; round < 300; round++) {
    const id = pick(ASCII);
    const sequence = pick(U53);
    const producerId = pick(STRINGS);
    const realityId = pick(STRINGS);
    const timestamp = { wallMs: pick(U53), logical: pick(U32) };
    const stamp = stampSuffix(id, sequence, producerId, realityId, timestamp);
    assertSameBytes(
      stamp,
      encodePulse({ id, sequence, producerId, realityId, timestamp }),
      `round ${round}: ${JSON.stringify([id, sequence, producerId, realityId, timestamp])}`,
    );
  }
});

Deno.test("encodePublishFrame decodes with the schema to the publish it was given", () => {
  let handled = 0;
  for (let round = 0; round < 300; round++) {
    const correlationId = pick(U53);
    const ack = pick([0, 1, 2]);
    const pulse = simplePulse();
    const fast = encodePublishFrame(correlationId, ack, pulse);
    assert.ok(fast, "simple pulses take the fast path");
    handled++;
    // The fast path writes the maps in another order than protobufjs and leaves out empty
    // fields, so the comparison is on decoded messages.
    assert.deepEqual(
      frameObject(fast),
      frameObject(encodeFrame({ publish: { correlationId, ack, pulse } })),
      `round ${round}`,
    );
  }
  assert.equal(handled, 300);
  assert.equal(encodePublishFrame(1, 0, anyPulse()), null, "other fields fall back to protobufjs");
});

Deno.test("encodePublishFrame writes lone surrogates as U+FFFD: the byte count matches what is written", () => {
  // A high surrogate not followed by a low one is one replacement character (3 bytes), and
  // the character after it still counts: counting the pair as 4 bytes and skipping that
  // character left a too-short field ("\uD800é": 4 counted, 5 written, truncated to 3 and a
  // zero byte).
  const encoder = new TextEncoder();
  for (
    const text of [
      "\uD800é",
      "a\uD83D\u4E2Db",
      "\uD800\uD800x",
      "\uDBFF\uD83D\uDE00",
      "\uDC00\uD800",
      "x\uD800",
    ]
  ) {
    const pulse: IPulse = {
      topic: "t." + text,
      realityId: text,
      contentType: text,
      headers: { [text]: text },
      payload: new Uint8Array([1]),
    };
    const fast = encodePublishFrame(7, 1, pulse);
    assert.ok(fast);
    const expected = encoder.encode(text);
    const frame = Frame.decode(fast) as unknown as {
      publish: { pulse: { topic: string; realityId: string; headers: Record<string, string> } };
    };
    const decoded = frame.publish.pulse;
    assert.deepEqual(encoder.encode(decoded.realityId), expected, JSON.stringify(text));
    assert.deepEqual(encoder.encode(decoded.topic), encoder.encode("t." + text));
    assert.deepEqual(Object.keys(decoded.headers).map((k) => encoder.encode(k)), [expected]);
    assert.ok(!decoded.realityId.includes("\0"), "no zero byte in the field");
    // (protobufjs itself is no reference here: it writes a lone surrogate as 3 bytes of
    // invalid UTF-8, which the node's strict reader refuses.)
    assert.doesNotThrow(() => frameObject(fast), "valid UTF-8 throughout");
  }
});

Deno.test("scanFrames reads publishes, deliveries and other frames as the schema writes them", () => {
  for (let round = 0; round < 100; round++) {
    const frames: IFrame[] = [];
    const n = pick([1, 2, 7]);
    for (let i = 0; i < n; i++) {
      frames.push(
        pick<() => IFrame>([
          () => ({
            publish: { correlationId: pick(U53), ack: pick([0, 1, 2]), pulse: anyPulse() },
          }),
          () => ({ deliver: { subscriptionId: pick(U32), pulse: anyPulse() } }),
          () => ({ publish: { correlationId: pick(U53) } }),
          () => ({ ping: { nonce: pick(U53) } }),
          () => ({ subscribe: { subscriptionId: pick(U32), pattern: "a.>", maxInFlight: 3 } }),
        ])(),
      );
    }
    const seen: IFrame[] = [];
    const ok = scanFrames(encodeFrame(n === 1 ? frames[0] : { batch: { frames } }), {
      publish: (correlationId, ack, pulse) =>
        seen.push({ publish: { correlationId, ack, pulse: Pulse.decode(pulse) as IPulse } }),
      deliver: (subscriptionId, pulse) =>
        seen.push({ deliver: { subscriptionId, pulse: Pulse.decode(pulse) as IPulse } }),
      other: (frame) => seen.push(Frame.decode(frame) as unknown as IFrame),
      nestedBatch: () => assert.fail("no nested batch was sent"),
    });
    assert.ok(ok);
    const plain = (f: IFrame) => Frame.toObject(Frame.fromObject(f), AS_OBJECT);
    // A publish without a pulse reaches the visitor with empty pulse bytes: an empty pulse.
    const expected = frames.map((f) =>
      f.publish && !f.publish.pulse ? { publish: { ...f.publish, ack: 0, pulse: {} } } : f
    );
    assert.deepEqual(seen.map(plain), expected.map(plain), `round ${round}`);
  }
});

Deno.test("peekPublishReality finds the first publish's reality in frames the schema writes", () => {
  for (let round = 0; round < 100; round++) {
    const pulse = anyPulse();
    const publish: IFrame = { publish: { correlationId: pick(U53), ack: 1, pulse } };
    assert.equal(peekPublishReality(encodeFrame(publish)), pulse.realityId ?? "");
    const batch = encodeFrame({ batch: { frames: [publish, { ping: { nonce: 1 } }] } });
    assert.equal(peekPublishReality(batch), pulse.realityId ?? "");
    const pingFirst = encodeFrame({ batch: { frames: [{ ping: { nonce: 1 } }, publish] } });
    assert.equal(peekPublishReality(pingFirst), undefined);
  }
});

Deno.test("PulseView scans payload and sequence as the schema writes them, stamped or not", () => {
  for (let round = 0; round < 200; round++) {
    const pulse = anyPulse();
    const bytes = encodePulse(pulse);
    const view = new PulseView(bytes);
    assertSameBytes(view.payload, pulse.payload ?? new Uint8Array(0), `round ${round}`);
    assert.equal(view.sequence, pulse.sequence ?? 0);
    assert.deepEqual(
      Pulse.toObject(Pulse.fromObject(view.decode()), AS_OBJECT),
      pulseObject(bytes),
    );
    const sequence = pick(U53);
    const stamped = new PulseView(
      concatBytes(bytes, stampSuffix("id", sequence, "p", "r", { wallMs: 1, logical: 0 })),
    );
    assert.equal(stamped.sequence, sequence, "the stamp's sequence wins");
    assertSameBytes(stamped.payload, pulse.payload ?? new Uint8Array(0), `round ${round}`);
  }
});

Deno.test("stampSuffix with a semtrace hop, and encodePublishFrame with semtrace, match the schema", () => {
  for (let round = 0; round < 200; round++) {
    const id = pick(ASCII);
    const sequence = pick(U53);
    const producerId = pick(STRINGS);
    const realityId = pick(STRINGS);
    const timestamp = { wallMs: pick(U53), logical: pick(U32) };
    const hop = pick(STRINGS);
    const stamp = stampSuffix(id, sequence, producerId, realityId, timestamp, hop);
    assertSameBytes(
      stamp,
      encodePulse({ id, sequence, producerId, realityId, timestamp, semtrace: hop ? [hop] : [] }),
      `round ${round}`,
    );
    // Producer entries first, then the node's hop: repeated fields concatenate.
    const pulse = { ...simplePulse(), semtrace: [pick(STRINGS), pick(STRINGS)].filter((s) => s) };
    const fast = encodePublishFrame(0, 0, pulse)!;
    assert.deepEqual(frameObject(fast), frameObject(encodeFrame({ publish: { pulse } })));
  }
});
