/**
 * The node forwards a producer's pulse bytes to subscribers and the log without
 * re-encoding them, so whatever it accepts must be valid protobuf for every reader, not
 * just for the node's own lenient decoder: a field number 0, an invalid wire type, a known
 * field under the wrong wire type, a broken nested message or invalid UTF-8 in a string
 * is refused with a typed error (INVALID_FRAME) and never acknowledged, stored or
 * delivered; valid pulses (unknown fields included) still pass byte for byte. What the
 * node sends is checked with the reference implementation: Python's `google.protobuf`,
 * with a module generated from arqon.proto by `protoc`.
 */
import assert from "node:assert/strict";
import {
  concat as cat,
  F,
  frames,
  msg,
  num,
  pb,
  type PbMessage,
  str,
  unpb,
} from "../support/pb.ts";
import { withNode } from "../support/node.ts";

const PROTO = new URL("../../runtime/protocol/arqon.proto", import.meta.url).pathname;
const PYTHON = ["/usr/bin/python3", "python3"];
/** Frame kinds pb.ts does not name. */
const HISTORY_GET = 20;
const HISTORY_CHUNK = 21;

/** Generates the Python module once; undefined when protoc or python's protobuf is missing. */
async function pythonModule(): Promise<{ dir: string; python: string } | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "arqon-pb-py-" });
  try {
    const protoc = await new Deno.Command("protoc", {
      args: [
        `--proto_path=${PROTO.slice(0, PROTO.lastIndexOf("/"))}`,
        `--python_out=${dir}`,
        PROTO,
      ],
    }).output();
    if (!protoc.success) throw new Error(new TextDecoder().decode(protoc.stderr));
  } catch (err) {
    throw new Error(`protoc (apt protobuf-compiler) is needed for this test: ${err}`);
  }
  for (const python of PYTHON) {
    try {
      const probe = await new Deno.Command(python, {
        args: ["-c", "import google.protobuf"],
      }).output();
      if (probe.success) return { dir, python };
    } catch { /* try the next */ }
  }
  throw new Error("python3 with google.protobuf (apt python3-protobuf) is needed for this test");
}

/**
 * Parses each message as an arqon.v1.Frame with Python's google.protobuf; returns, per
 * message, "ok <kind> <pulse topics>" or "error: ...".
 */
async function parseWithPython(
  py: { dir: string; python: string },
  messages: Uint8Array[],
): Promise<string[]> {
  const script = `
import sys, base64
sys.path.insert(0, ${JSON.stringify(py.dir)})
import arqon_pb2
for line in sys.stdin:
    data = base64.b64decode(line.strip())
    try:
        f = arqon_pb2.Frame()
        f.ParseFromString(data)
        kind = f.WhichOneof("kind")
        inner = [getattr(f, kind)] if kind != "batch" else [getattr(x, x.WhichOneof("kind")) for x in f.batch.frames]
        topics = []
        for m in inner:
            if hasattr(m, "pulse") and m.HasField("pulse"): topics.append(m.pulse.topic)
            if hasattr(m, "pulses"): topics.extend(p.topic for p in m.pulses)
        print("ok", kind, ",".join(topics))
    except Exception as e:
        print("error:", type(e).__name__, e)
`;
  const child = new Deno.Command(py.python, {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
  await w.write(new TextEncoder().encode(messages.map(b64).join("\n") + "\n"));
  await w.close();
  const out = await child.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n");
}

/** A raw `arqon.v1.proto` socket keeping every binary message as received. */
class Wire {
  readonly raw: Uint8Array[] = [];
  readonly ws: WebSocket;
  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => this.raw.push(new Uint8Array(e.data as ArrayBuffer));
  }
  static async open(url: string): Promise<Wire> {
    const ws = new WebSocket(url, "arqon.v1.proto");
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    return new Wire(ws);
  }
  send(frame: Uint8Array): void {
    this.ws.send(frame as Uint8Array<ArrayBuffer>);
  }
  get received(): [number, PbMessage][] {
    return this.raw.flatMap((m) => frames(m));
  }
  async until(what: string, pred: (f: [number, PbMessage][]) => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!pred(this.received)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  async close(): Promise<void> {
    const closed = new Promise((r) => this.ws.onclose = r);
    this.ws.close();
    await closed;
  }
}

/** A valid pulse on `topic`, followed by `tail` (raw bytes). */
const pulse = (topic: string, tail: number[] = []) =>
  cat(pb([[3, topic], [11, "payload"]]), new Uint8Array(tail));

/** Malformed pulses: what a strict parser refuses, each with the reason. */
const MALFORMED: [string, Uint8Array][] = [
  ["field number 0 (varint)", pulse("raw.bad0", [0x00, 0x01])],
  ["field number 0 (bytes)", pulse("raw.bad1", [0x02, 0x01, 0x41])],
  ["wire type 7", pulse("raw.bad2", [0x0f, 0x00])],
  ["wire type 6", pulse("raw.bad3", [0xa6, 0x06, 0x00])],
  ["an unterminated group", pulse("raw.bad4", [0xa3, 0x06])],
  ["topic under the varint wire type", cat(pb([[3, "raw.bad5"]]), new Uint8Array([0x18, 0x05]))],
  ["timestamp holding field number 0", pulse("raw.bad6", [0x32, 0x02, 0x00, 0x00])],
  ["headers entry with a truncated value", pulse("raw.bad7", [0x4a, 0x03, 0x0a, 0x05, 0x61])],
  [
    "invalid UTF-8 in a header value",
    pulse("raw.bad8", [0x4a, 0x06, 0x0a, 0x01, 0x61, 0x12, 0x01, 0xff]),
  ],
  ["an over-long varint", pulse("raw.bad9", [0x70, ...new Array(11).fill(0xff), 0x01])],
];

Deno.test("pulse bytes: malformed pulses are refused, never acked, stored or delivered", async () => {
  const py = await pythonModule();
  await withNode(async (node) => {
    const created = await fetch(`${node.url}/v1/realities`, {
      method: "POST",
      body: JSON.stringify({ name: "default", retention: [{ pattern: ">" }] }),
    });
    assert.equal(created.status, 201, await created.text());
    const sub = await Wire.open(node.wsUrl);
    const pub = await Wire.open(node.wsUrl);
    try {
      for (const w of [sub, pub]) w.send(pb([[F.hello, [[2, 1]]]]));
      sub.send(pb([[F.subscribe, [[1, 1], [3, "raw.>"], [12, 1]]]]));
      await sub.until("subscribed", (fs) => fs.some(([k]) => k === F.subscribed));
      let corr = 100;
      for (const [why, bytes] of MALFORMED) {
        const c = ++corr;
        pub.send(pb([[F.publish, [[1, c], [2, 1], [3, bytes]]]]));
        await pub.until(
          `an answer to ${why}`,
          (fs) =>
            fs.some(([k, m]) =>
              (k === F.error && num(m, 3) === c) || (k === F.ack && num(m, 1) === c)
            ),
        );
        const answer = pub.received.find(([k, m]) => num(m, k === F.error ? 3 : 1) === c)!;
        assert.equal(answer[0], F.error, `${why}: expected an error frame, got an ack`);
        // ERROR_CODE_INVALID_FRAME, or ERROR_CODE_INVALID_UTF8 for a string that is not UTF-8.
        const code = why.includes("UTF-8") ? 3 : 1;
        assert.equal(num(answer[1], 1), code, `${why}: error code ${code}: ${str(answer[1], 2)}`);
        assert.match(str(answer[1], 2), /invalid pulse/);
      }
      // Valid pulses still pass byte for byte, unknown fields included.
      const unknown = pulse("raw.ok.unknown", [0xa0, 0x06, 0x2a, 0xad, 0x06, 1, 2, 3, 4]);
      pub.send(pb([[F.publish, [[1, 500], [2, 1], [3, unknown]]]]));
      pub.send(pb([[F.publish, [[1, 501], [2, 1], [3, pulse("raw.ok.plain")]]]]));
      await sub.until("two deliveries", (fs) => fs.filter(([k]) => k === F.deliver).length >= 2);
      const delivered = sub.received.filter(([k]) => k === F.deliver).map(([, m]) => msg(m, 2));
      assert.deepEqual(delivered.map((p) => str(p, 3)), ["raw.ok.unknown", "raw.ok.plain"]);
      assert.equal(num(delivered[0], 100), 42, "the unknown field is forwarded");
      // History: one chunk with both pulses, nothing else.
      sub.send(pb([[HISTORY_GET, [[1, 9]]]]));
      await sub.until(
        "history",
        (fs) => fs.some(([k, m]) => k === HISTORY_CHUNK && num(m, 3) === 1),
      );
      const stored = sub.received.filter(([k]) => k === HISTORY_CHUNK)
        .flatMap(([, m]) => (m.get(2) ?? []).map((p) => str(unpb(p as Uint8Array), 3)));
      assert.deepEqual(stored, ["raw.ok.unknown", "raw.ok.plain"]);
      // The reference implementation parses every message the node sent.
      const parsed = await parseWithPython(py!, [...sub.raw, ...pub.raw]);
      const errors = parsed.filter((l) => !l.startsWith("ok"));
      assert.deepEqual(errors, [], "python's google.protobuf fails on what the node sent");
      assert.ok(parsed.some((l) => l.startsWith("ok deliver raw.ok.unknown")), parsed.join("\n"));
      assert.ok(
        parsed.some((l) => l === "ok history_chunk raw.ok.unknown,raw.ok.plain"),
        parsed.join("\n"),
      );
    } finally {
      await Promise.all([sub.close(), pub.close()]);
      await Deno.remove(py!.dir, { recursive: true });
    }
  }, { memory: true });
});
