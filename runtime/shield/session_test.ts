/**
 * The session without sockets: a real Spine and in-memory durable log, sessions on
 * in-memory transports, frames in and frames out.
 */
import assert from "node:assert/strict";
import {
  AckMode,
  decodeFrame,
  encodeFrame,
  errorCodeValue,
  type IFrame,
  OverflowPolicy,
  StartMode,
} from "../protocol/mod.ts";
import { Spine } from "../spine/mod.ts";
import { openStore } from "../store/mod.ts";
import { NodeMetrics } from "../telemetry/mod.ts";
import { MemoryTransport } from "../transport/mod.ts";
import { FairScheduler } from "./limits/mod.ts";
import { Session, type SessionContext } from "./session.ts";
import { SESSION_DEFAULTS, type SessionOptions, sessionOptions } from "./session_options.ts";
import { StallWatch } from "./stall_watch.ts";

type Extra = Partial<Omit<SessionContext, "options">> & { options?: Partial<SessionOptions> };

/** A Spine over an in-memory log, and a way to open sessions on it. */
function bench() {
  const metrics = new NodeMetrics();
  const store = openStore({
    dataDir: null,
    defaultRealityConfig: { retention: [{ pattern: ">" }] },
  });
  const spine = new Spine({
    log: store,
    metrics,
    queue: { maxMessages: 10_000, maxBytes: 64 << 20, overflow: "drop-oldest" },
  });
  const ended: Session[] = [];
  const open = (format: "proto" | "json" = "proto", extra: Extra = {}) => {
    const transport = new MemoryTransport();
    const session = new Session(
      {
        spine,
        store,
        metrics,
        nodeId: "node-1",
        onEnd: (s) => ended.push(s),
        ...extra,
        options: { ...SESSION_DEFAULTS, ...extra.options },
      },
      transport,
      format,
    );
    return { session, transport };
  };
  const close = () => {
    spine.setLog(undefined);
    store.close();
  };
  return { metrics, store, spine, open, ended, close };
}

/** The frames of every message sent since the last call (batches opened). */
function framesOf(t: MemoryTransport): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const message of t.take()) {
    if (typeof message === "string") {
      const frame = JSON.parse(message);
      out.push(...(frame.batch ? frame.batch.frames : [frame]));
    } else {
      const frame = decodeFrame(message);
      const frames = frame.kind === "batch" ? frame.batch!.frames! : [frame];
      for (const f of frames) out.push(f as unknown as Record<string, unknown>);
    }
  }
  return out;
}

/** Lets queued microtasks and timers (flushes, acks) run. */
const settle = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

const payload = (n: number, size = 8) => new Uint8Array(size).fill(n);

function publish(correlationId: number, topic: string, n: number, ack = 1, size = 8): Uint8Array {
  return encodeFrame({
    publish: { correlationId, ack, pulse: { topic, payload: payload(n, size) } },
  });
}

Deno.test("session: hello is answered with Welcome", () => {
  const b = bench();
  try {
    const { session, transport } = b.open("proto", { options: { maxFrameBytes: 4096 } });
    session.receive(encodeFrame({ hello: { protocolVersion: 1, clientName: "me" } }));
    const [welcome] = framesOf(transport) as IFrame[];
    assert.equal(welcome.welcome?.nodeId, "node-1");
    assert.equal(welcome.welcome?.sessionId, session.id);
    assert.equal(welcome.welcome?.maxFrameBytes, 4096);
    assert.deepEqual(welcome.welcome?.capabilities, ["batch", "request", "credit", "queue-groups"]);
    // A newer protocol is refused.
    session.receive(encodeFrame({ hello: { protocolVersion: 99 } }));
    const [error] = framesOf(transport) as IFrame[];
    assert.equal(error.error?.code, errorCodeValue("UNSUPPORTED_VERSION"));
    session.close();
    assert.deepEqual(transport.closedWith, { code: 1001, reason: "node shutting down" });
    assert.deepEqual(b.ended, [session]);
  } finally {
    b.close();
  }
});

Deno.test("session: a publish is acknowledged with its correlation id and sequence", async () => {
  const b = bench();
  try {
    const { session, transport } = b.open();
    session.receive(publish(5, "a.b", 1, AckMode.RECEIVED));
    session.receive(publish(6, "a.b", 2, AckMode.NONE));
    session.receive(publish(7, "a.b", 3, AckMode.DURABLE));
    const now = framesOf(transport) as IFrame[];
    assert.equal(now.length, 1);
    assert.equal(Number(now[0].ack?.correlationId), 5);
    assert.equal(Number(now[0].ack?.sequence), 1);
    // The durable ack waits for the log's commit.
    await settle(20);
    const later = framesOf(transport) as IFrame[];
    assert.equal(later.length, 1);
    assert.equal(Number(later[0].ack?.correlationId), 7);
    assert.equal(Number(later[0].ack?.sequence), 3);
    session.close();
  } finally {
    b.close();
  }
});

Deno.test("session: a subscriber gets what a publisher sends, batched", async () => {
  const b = bench();
  try {
    const sub = b.open();
    sub.session.receive(
      encodeFrame({ subscribe: { subscriptionId: 3, pattern: "a.>", correlationId: 2 } }),
    );
    const [subscribed] = framesOf(sub.transport) as IFrame[];
    assert.deepEqual(
      { ...subscribed.subscribed, correlationId: Number(subscribed.subscribed?.correlationId) },
      { correlationId: 2, subscriptionId: 3 },
    );
    assert.equal(sub.session.subscriptionCount, 1);
    const pub = b.open();
    for (let i = 1; i <= 10; i++) pub.session.receive(publish(i, `a.${i}`, i, AckMode.NONE));
    pub.session.receive(publish(11, "other", 11, AckMode.NONE));
    await settle();
    assert.equal(sub.transport.messages, 2, "ten deliveries in one message");
    const delivered = framesOf(sub.transport) as IFrame[];
    assert.deepEqual(delivered.map((f) => f.deliver?.subscriptionId), Array(10).fill(3));
    assert.deepEqual(
      delivered.map((f) => f.deliver?.pulse?.topic),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => `a.${i}`),
    );
    assert.deepEqual(delivered[4].deliver?.pulse?.payload, payload(5));
    assert.equal(sub.session.idle, true);
    // After unsubscribe nothing more arrives.
    sub.session.receive(encodeFrame({ unsubscribe: { subscriptionId: 3 } }));
    pub.session.receive(publish(12, "a.x", 12, AckMode.NONE));
    await settle();
    assert.deepEqual(framesOf(sub.transport), []);
    assert.equal(sub.session.subscriptionCount, 0);
    sub.session.close();
    pub.session.close();
  } finally {
    b.close();
  }
});

Deno.test("session: a JSON session speaks canonical JSON text", async () => {
  const b = bench();
  try {
    const { session, transport } = b.open("json");
    session.receive(JSON.stringify({ hello: { protocolVersion: 1 } }));
    session.receive(JSON.stringify({
      batch: {
        frames: [
          { subscribe: { subscriptionId: 1, pattern: "j.>", correlationId: "4" } },
          {
            publish: {
              correlationId: "9",
              ack: "ACK_MODE_RECEIVED",
              pulse: { topic: "j.k", payload: btoa("hi") },
            },
          },
        ],
      },
    }));
    await settle();
    const sent = transport.sent.slice();
    assert.ok(sent.every((m) => typeof m === "string"), "text messages only");
    const frames = framesOf(transport);
    const kinds = frames.map((f) => Object.keys(f)[0]);
    assert.deepEqual(kinds, ["welcome", "subscribed", "ack", "deliver"]);
    assert.equal(frames[2].ack && (frames[2].ack as { correlationId: string }).correlationId, "9");
    const deliver = frames[3].deliver as {
      subscriptionId: number;
      pulse: { topic: string; payload: string };
    };
    assert.equal(deliver.subscriptionId, 1);
    assert.equal(deliver.pulse.topic, "j.k");
    assert.equal(atob(deliver.pulse.payload), "hi");
    // Invalid JSON gets a typed error.
    session.receive("{not json");
    const [error] = framesOf(transport);
    assert.equal((error.error as { code: string }).code, "ERROR_CODE_INVALID_FRAME");
    session.close();
  } finally {
    b.close();
  }
});

Deno.test("session: a message is read by its own type; answers keep the session's format", () => {
  const b = bench();
  try {
    const { session, transport } = b.open("proto");
    session.receive(JSON.stringify({ ping: { nonce: "5" } }));
    const [message] = transport.take();
    assert.ok(message instanceof Uint8Array, "a protobuf session answers in protobuf");
    assert.equal(Number(decodeFrame(message).pong?.nonce), 5);
    session.close();
  } finally {
    b.close();
  }
});

Deno.test("session: errors carry the failing frame's correlation id", () => {
  const b = bench();
  try {
    const { session, transport } = b.open("proto", { options: { maxFrameBytes: 256 } });
    session.receive(
      encodeFrame({ subscribe: { subscriptionId: 0, pattern: "a", correlationId: 11 } }),
    );
    session.receive(
      encodeFrame({ subscribe: { subscriptionId: 1, pattern: "a..b", correlationId: 12 } }),
    );
    session.receive(encodeFrame({ unsubscribe: { subscriptionId: 42 } }));
    session.receive(publish(13, "bad..topic", 1));
    session.receive(publish(14, "a.b", 1, AckMode.RECEIVED, 1024));
    session.receive(encodeFrame({ batch: { frames: [{ batch: { frames: [] } }] } }));
    session.receive(new Uint8Array([0xff, 0xff]));
    session.receive(encodeFrame({ welcome: {} }));
    const errors = (framesOf(transport) as IFrame[]).map((f) => [
      f.error?.code,
      Number(f.error?.correlationId ?? 0),
    ]);
    assert.deepEqual(errors, [
      [errorCodeValue("INVALID_ARGUMENT"), 11],
      [errorCodeValue("INVALID_PATTERN"), 12],
      [errorCodeValue("NOT_FOUND"), 0],
      [errorCodeValue("INVALID_TOPIC"), 13],
      [errorCodeValue("FRAME_TOO_LARGE"), 0],
      [errorCodeValue("PROTOCOL_VIOLATION"), 0],
      [errorCodeValue("INVALID_FRAME"), 0],
      [errorCodeValue("PROTOCOL_VIOLATION"), 0],
    ]);
    session.close();
  } finally {
    b.close();
  }
});

Deno.test("session: the outbox stalls at the high-water mark and resumes once drained", async () => {
  const b = bench();
  try {
    const stalls = new StallWatch();
    const options = { highWaterBytes: 8 * 1024, maxBatchBytes: 2 * 1024 };
    const sub = b.open("proto", { stalls, options });
    sub.session.receive(encodeFrame({ subscribe: { subscriptionId: 1, pattern: ">" } }));
    framesOf(sub.transport);
    sub.transport.pause();
    const pub = b.open();
    // Ten rounds of ten 1 KB pulses: the first round's flush crosses the mark.
    for (let round = 0; round < 10; round++) {
      for (let i = 1; i <= 10; i++) {
        const n = round * 10 + i;
        pub.session.receive(publish(n, "s.t", n, AckMode.NONE, 1024));
      }
      await settle();
    }
    const early = framesOf(sub.transport).length;
    assert.ok(early > 0 && early < 100, `${early} delivered before the stall`);
    assert.ok(sub.transport.bufferedAmount() > options.highWaterBytes);
    assert.equal(stalls.size, 1);
    assert.equal(sub.session.resumeIfDrained(), false, "still over the mark");
    assert.equal(sub.session.idle, false);
    await settle(10);
    assert.deepEqual(framesOf(sub.transport), [], "nothing written while stalled");
    // The peer reads again: any received message re-checks stalled sessions.
    sub.transport.resume();
    stalls.poll();
    assert.equal(stalls.size, 0);
    await settle();
    const rest = framesOf(sub.transport) as IFrame[];
    assert.equal(early + rest.length, 100);
    assert.equal(rest.at(-1)?.deliver?.pulse?.payload?.[0], 100);
    const stalled = await b.metrics.registry.getSingleMetricAsString(
      "arqon_transport_stalls_total",
    );
    assert.match(stalled, /transport="mem"\} [1-9]/);
    sub.session.close();
    pub.session.close();
  } finally {
    b.close();
  }
});

Deno.test("session: a `disconnect` subscription that overflows closes with SLOW_CONSUMER", async () => {
  const b = bench();
  try {
    const sub = b.open("proto", { options: { highWaterBytes: 100 } });
    sub.session.receive(encodeFrame({
      subscribe: {
        subscriptionId: 4,
        pattern: ">",
        overflow: OverflowPolicy.DISCONNECT,
        maxQueueMessages: 3,
      },
    }));
    await settle();
    sub.transport.take();
    sub.transport.pause();
    const pub = b.open();
    pub.session.receive(publish(1, "x", 1, AckMode.NONE, 200));
    await settle(); // delivered: the buffer is now over the mark
    for (let i = 2; i <= 6; i++) pub.session.receive(publish(i, "x", i, AckMode.NONE));
    const frames = framesOf(sub.transport) as IFrame[];
    const notice = frames.at(-1)!.error!;
    assert.equal(notice.code, errorCodeValue("SLOW_CONSUMER"));
    assert.equal(notice.subscriptionId, 4);
    assert.deepEqual(sub.transport.closedWith, { code: 1008, reason: "slow consumer" });
    assert.equal(b.ended.includes(sub.session), true);
    pub.session.close();
  } finally {
    b.close();
  }
});

Deno.test("session: a full ingress lane sheds publishes; a flood is closed", async () => {
  const b = bench();
  let now = 0;
  const turns: (() => void)[] = [];
  const fairness = new FairScheduler({
    quantumMs: 0.5,
    maxQueuedPerReality: 10,
    clock: () => now++,
    nextTurn: (callback) => turns.push(callback),
  });
  try {
    const { session, transport } = b.open("proto", { fairness, options: { rateKick: 0 } });
    const pulse = (n: number) => ({
      realityId: "storm",
      topic: "s.t",
      payload: payload(n),
    });
    const message = (c: number, ack: number) =>
      encodeFrame({ publish: { correlationId: c, ack, pulse: pulse(c) } });
    session.receive(message(1, AckMode.RECEIVED)); // runs now, spends the lane's credit
    session.receive(message(2, AckMode.RECEIVED)); // queues
    session.receive(message(3, AckMode.RECEIVED)); // lane full: shed, refused by id
    session.receive(message(4, AckMode.NONE)); // shed quietly, reported once
    const now1 = framesOf(transport) as IFrame[];
    assert.equal(Number(now1[0].ack?.correlationId), 1);
    assert.equal(now1[1].error?.code, errorCodeValue("RATE_LIMITED"));
    assert.equal(Number(now1[1].error?.correlationId), 3);
    assert.match(now1[1].error?.message ?? "", /fair share/);
    assert.match(now1[2].error?.message ?? "", /^1 unacknowledged pulses shed/);
    assert.equal(now1.length, 3);
    assert.equal(session.idle, false, "a message waits in the lane");
    for (let i = 0; i < 10 && fairness.queued > 0; i++) turns.splice(0).forEach((t) => t());
    const later = framesOf(transport) as IFrame[];
    assert.equal(Number(later[0].ack?.correlationId), 2);
    const shed = await b.metrics.registry.getSingleMetricAsString("arqon_ingress_shed_total");
    assert.match(shed, /reality="storm"\} 2/);
    session.close();

    // With --rate-kick 1, the first shed publish closes the connection.
    const kicked = b.open("proto", { fairness, options: { rateKick: 1 } });
    kicked.session.receive(message(5, AckMode.RECEIVED));
    kicked.session.receive(message(6, AckMode.RECEIVED));
    kicked.session.receive(message(7, AckMode.RECEIVED));
    assert.equal(kicked.transport.closedWith?.code, 1008);
    assert.match(kicked.transport.closedWith?.reason ?? "", /flooding past its fair share/);
    turns.splice(0).forEach((t) => t());
  } finally {
    fairness.close();
    b.close();
  }
});

Deno.test("session: replay and history come from the durable log", async () => {
  const b = bench();
  try {
    const pub = b.open();
    for (let i = 1; i <= 5; i++) pub.session.receive(publish(i, "h.t", i, AckMode.NONE));
    await settle(20);
    const sub = b.open();
    sub.session.receive(encodeFrame({
      subscribe: {
        subscriptionId: 1,
        pattern: "h.>",
        start: StartMode.FROM_SEQUENCE,
        fromSequence: 2,
      },
    }));
    sub.session.receive(encodeFrame({ historyGet: { correlationId: 8, pattern: "h.>" } }));
    await settle(20);
    const frames = framesOf(sub.transport) as IFrame[];
    const replayed = frames.filter((f) => f.deliver).map((f) => Number(f.deliver!.pulse!.sequence));
    assert.deepEqual(replayed, [2, 3, 4, 5]);
    const chunk = frames.find((f) => f.historyChunk)!.historyChunk!;
    assert.equal(Number(chunk.correlationId), 8);
    assert.equal(chunk.pulses?.length, 5);
    assert.equal(chunk.done, true);
    sub.session.close();
    pub.session.close();
  } finally {
    b.close();
  }
});

Deno.test("session options: only the session's fields are kept", () => {
  const picked = sessionOptions(
    { ...SESSION_DEFAULTS, port: 1, maxFrameBytes: 7 } as SessionOptions,
  );
  assert.deepEqual(picked, { ...SESSION_DEFAULTS, maxFrameBytes: 7 });
});
