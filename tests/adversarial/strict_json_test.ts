/**
 * The JSON subprotocol against the reference implementation: Python's
 * `google.protobuf.json_format` writes frames (JSON names and proto names, enums as names
 * and numbers, URL-safe base64) that go over a raw `arqon.v1.json` WebSocket, and parses
 * every text message the node sends back, refusals included. Needs `protoc` and Python's
 * protobuf (`protobuf-compiler`, `python3-protobuf`, installed by .ci/run).
 * @module
 */
import assert from "node:assert/strict";
import { JSON_CODEC } from "../../runtime/protocol/mod.ts";
import { withNode } from "../support/node.ts";

const PROTO_DIR = new URL("../../runtime/protocol/", import.meta.url).pathname;

const SCRIPT = String.raw`
import base64, json, sys
sys.path.insert(0, sys.argv[1])
import arqon_pb2 as pb
from google.protobuf import json_format as jf

def out(msg, **kw):
    print(jf.MessageToJson(msg, indent=None, **kw))

if sys.argv[2] == "make":
    f = pb.Frame(); f.hello.client_name = "py"; f.hello.protocol_version = 1; out(f)
    f = pb.Frame(); s = f.subscribe
    s.subscription_id = 4; s.reality_id = "rawj"; s.pattern = "raw.>"; s.correlation_id = 5
    s.overflow = pb.OVERFLOW_POLICY_DROP_NEW
    out(f, preserving_proto_field_name=True)
    def publish(corr):
        f = pb.Frame(); p = f.publish
        p.correlation_id = corr; p.ack = pb.ACK_MODE_DURABLE
        p.pulse.topic = "raw.b"; p.pulse.reality_id = "rawj"; p.pulse.payload = b"\xfb\xff\x00hi?"
        p.pulse.headers["k"] = "v"; p.pulse.entropy_seed = 2**40; p.pulse.spectral.coherence = 0.5
        p.pulse.intent_vector.extend([0.25, -1.5]); p.pulse.content_type = "application/x"
        return f
    out(publish(11), preserving_proto_field_name=True)
    out(publish(12))
    out(publish(13), use_integers_for_enums=True)
    j = json.loads(jf.MessageToJson(publish(14), indent=None))
    j["publish"]["pulse"]["payload"] = base64.urlsafe_b64encode(b"\xfb\xff\x00hi?").decode().rstrip("=")
    print(json.dumps(j))
    f = pb.Frame(); f.ping.nonce = 9; out(f)
    f = pb.Frame(); h = f.history_get
    h.correlation_id = 31; h.reality_id = "rawj"; h.pattern = "raw.>"; h.from_sequence = 2
    out(f, preserving_proto_field_name=True)
elif sys.argv[2] == "every":
    from google.protobuf.descriptor import FieldDescriptor as FD
    def fill(msg, depth):
        for field in msg.DESCRIPTOR.fields:
            if field.containing_oneof is not None:
                continue
            value = {
                FD.TYPE_UINT64: 2**53 - 1, FD.TYPE_UINT32: 2**32 - 1, FD.TYPE_DOUBLE: -0.5,
                FD.TYPE_FLOAT: 0.25, FD.TYPE_STRING: "s.\u00e9\U0001F600", FD.TYPE_BOOL: True,
                FD.TYPE_BYTES: b"\xfb\xff\xfe\x00",
            }.get(field.type)
            if field.type == FD.TYPE_ENUM:
                value = field.enum_type.values[-1].number
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                if field.message_type.fields_by_name["value"].type == FD.TYPE_STRING:
                    getattr(msg, field.name)["k"] = "v"
                    getattr(msg, field.name)["traceparent"] = "00-x"
                else:
                    # Counters (vector clocks): the largest value JSON keeps exact, and 1.
                    getattr(msg, field.name)["k"] = 2**53 - 1
                    getattr(msg, field.name)["r.b"] = 1
            elif field.type == FD.TYPE_MESSAGE:
                if field.message_type.name == "Frame":
                    if depth < 1:
                        getattr(msg, field.name).add().ping.nonce = 3
                    continue
                sub = getattr(msg, field.name).add() if field.label == FD.LABEL_REPEATED else getattr(msg, field.name)
                fill(sub, depth + 1)
            elif field.label == FD.LABEL_REPEATED:
                getattr(msg, field.name).extend([value, value])
            else:
                setattr(msg, field.name, value)
    for field in pb.Frame.DESCRIPTOR.oneofs_by_name["kind"].fields:
        f = pb.Frame()
        getattr(f, field.name).SetInParent()
        fill(getattr(f, field.name), 0)
        out(f)
        out(f, preserving_proto_field_name=True, use_integers_for_enums=True)
elif sys.argv[2] == "same":
    lines = [l for l in sys.stdin.read().split("\n") if l.strip()]
    half = len(lines) // 2
    for a, b in zip(lines[:half], lines[half:]):
        x, y = pb.Frame(), pb.Frame()
        jf.Parse(a, x)
        jf.Parse(b, y)
        if x != y:
            raise SystemExit("differs:\n" + a + "\n" + b)
    print(half)
else:
    for line in sys.stdin:
        if not line.strip():
            continue
        f = pb.Frame()
        jf.Parse(line, f)
        print(json.dumps(json.loads(jf.MessageToJson(f, indent=None, preserving_proto_field_name=True))))
`;

async function python(dir: string, mode: string, input = ""): Promise<string> {
  const exe = await Deno.stat("/usr/bin/python3").then(() => "/usr/bin/python3", () => "python3");
  const child = new Deno.Command(exe, {
    args: [`${dir}/check.py`, dir, mode],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `python ${mode} failed: ${err}`);
  return new TextDecoder().decode(stdout);
}

async function pythonModule(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "arqon-pyjson-" });
  const protoc = await new Deno.Command("protoc", {
    args: [`--python_out=${dir}`, `-I${PROTO_DIR}`, `${PROTO_DIR}arqon.proto`],
  }).output().catch((e) => {
    throw new Error(`protoc is needed (apt protobuf-compiler): ${e}`);
  });
  assert.equal(protoc.code, 0, new TextDecoder().decode(protoc.stderr));
  await Deno.writeTextFile(`${dir}/check.py`, SCRIPT);
  return dir;
}

/** A raw JSON WebSocket recording every text message as sent. */
async function jsonSocket(url: string) {
  const ws = new WebSocket(url, "arqon.v1.json");
  const texts: string[] = [];
  ws.onmessage = (e) => texts.push(e.data as string);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("websocket failed"));
  });
  const frames = () =>
    texts.flatMap((t) => {
      const v = JSON.parse(t);
      return v.batch ? v.batch.frames as Record<string, unknown>[] : [v];
    });
  const until = async (what: string, ok: (f: Record<string, unknown>[]) => boolean) => {
    const end = Date.now() + 5000;
    while (!ok(frames())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${texts.join("\n")}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { ws, texts, frames, until };
}

Deno.test({
  name: "strict JSON: Python json_format frames in, node frames parsed by Python out",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await pythonModule();
    try {
      const made = (await python(dir, "make")).trim().split("\n");
      assert.equal(made.length, 8);
      // The preserved-names publish carries the misrouted fields.
      assert.match(made[2], /"correlation_id": "11"/);
      assert.match(made[2], /"reality_id": "rawj"/);
      await withNode(async (node) => {
        const created = await fetch(`${node.url}/v1/realities`, {
          method: "POST",
          body: JSON.stringify({ name: "rawj", retention: [{ pattern: "raw.>" }] }),
        });
        assert.equal(created.status, 201);
        const s = await jsonSocket(node.wsUrl);
        s.ws.send(made[0]);
        await s.until("welcome", (f) => f.some((x) => x.welcome));
        s.ws.send(made[1]);
        await s.until("subscribed", (f) => f.some((x) => x.subscribed));
        for (const line of made.slice(2, 7)) s.ws.send(line);
        await s.until(
          "4 acks, 4 deliveries, a pong",
          (f) =>
            f.filter((x) => x.ack).length === 4 && f.filter((x) => x.deliver).length === 4 &&
            f.some((x) => x.pong),
        );
        s.ws.send(made[7]);
        await s.until(
          "history",
          (f) => f.some((x) => (x.historyChunk as { done?: boolean } | undefined)?.done),
        );
        // Refusals, each a typed error carrying the frame's correlation id.
        const bad = [
          '{"publish":{"correlationId":"21","ack":1,"pulse":{"topic":"raw.b","payload":{"x":1}}}}',
          '{"publish":{"correlationId":"22","pulse":{"topic":"raw.b","colour":"red"}}}',
          '{"publish":{"correlationId":"23","pulse":{"topic":"raw.b"}},"ping":{"nonce":"1"}}',
          '{"publish":{"correlationId":"24","pulse":{"topic":"raw.b","topic":"raw.c"}}}',
          '{"subscribe":{"correlationId":"25","subscriptionId":9,"maxQueueBytes":-1}}',
        ];
        for (const line of bad) s.ws.send(line);
        await s.until("5 errors", (f) => f.filter((x) => x.error).length === 5);

        const frames = s.frames();
        const acks = frames.filter((x) => x.ack).map((x) => x.ack as Record<string, string>);
        assert.deepEqual(acks.map((a) => [a.correlationId, a.realityId, a.sequence]), [
          ["11", "rawj", "1"],
          ["12", "rawj", "2"],
          ["13", "rawj", "3"],
          ["14", "rawj", "4"],
        ]);
        const errors = frames.filter((x) => x.error).map((x) => x.error as Record<string, string>);
        assert.deepEqual(errors.map((e) => [e.code, e.correlationId]), [
          ["ERROR_CODE_INVALID_FRAME", "21"],
          ["ERROR_CODE_INVALID_FRAME", "22"],
          ["ERROR_CODE_INVALID_FRAME", "23"],
          ["ERROR_CODE_INVALID_FRAME", "24"],
          ["ERROR_CODE_INVALID_FRAME", "25"],
        ]);
        assert.match(errors[0].message, /publish\.pulse\.payload/);
        assert.match(errors[1].message, /publish\.pulse\.colour/);
        // Nothing refused was acknowledged or delivered.
        assert.equal(frames.filter((x) => x.deliver).length, 4);

        // Python parses every message the node sent, strictly (unknown fields refused).
        const parsed = (await python(dir, "parse", s.texts.join("\n") + "\n")).trim().split("\n")
          .map((l) => JSON.parse(l));
        assert.equal(parsed.length, s.texts.length);
        const delivered = parsed.flatMap((f) => f.batch ? f.batch.frames : [f])
          .filter((f: Record<string, unknown>) => f.deliver)
          .map((f: { deliver: { pulse: Record<string, unknown> } }) => f.deliver.pulse);
        assert.equal(delivered.length, 4);
        const chunks = parsed.filter((f) => f.history_chunk).map((f) => f.history_chunk);
        assert.equal(chunks.at(-1).correlation_id, "31");
        assert.deepEqual(
          chunks.flatMap((c: { pulses?: { sequence: string }[] }) => c.pulses ?? [])
            .map((p: { sequence: string }) => p.sequence),
          ["2", "3", "4"],
        );
        for (const pulse of delivered) {
          assert.equal(atob(pulse.payload as string), "\xfb\xff\x00hi?");
          assert.equal(pulse.reality_id, "rawj");
          assert.equal(pulse.entropy_seed, String(2 ** 40));
          assert.deepEqual(pulse.headers, { k: "v" });
          assert.deepEqual(pulse.intent_vector, [0.25, -1.5]);
        }
        s.ws.close();
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("strict JSON: every frame kind, every field, round-trips exactly with json_format", async () => {
  const dir = await pythonModule();
  try {
    const made = (await python(dir, "every")).trim().split("\n");
    assert.ok(made.length >= 36, `${made.length} frames`);
    // The node reads each (JSON names, proto names, enum numbers) and writes it back.
    const back = made.map((line) => JSON_CODEC.encode(JSON_CODEC.decode(line)) as string);
    for (const line of back) {
      assert.doesNotMatch(line, /"NaN"|"-1"/);
    }
    // Python parses what the node wrote into the very message it wrote first.
    const same = await python(dir, "same", [...made, ...back].join("\n") + "\n");
    assert.equal(Number(same), made.length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
