/**
 * Spectral metadata end to end on a real node: set on publish by a raw protobuf client
 * (doubles written byte by byte here, not with the node's codec), validated (finite, at most
 * 64 eigenvalues), and filtered per subscription (`spectral_filter` in the subscribe frame,
 * `?spectral_filter=` on SSE), with typed errors for bad filters; read and set by an operator.
 */
import assert from "node:assert/strict";
import { F, msg, num, pb, type PbField, type PbMessage, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { testOperatorComponent } from "../operators/build/mod.ts";
import { ArqonClient } from "../mod.ts";
import { metric, withNode } from "./support/node.ts";

const PROTO = "arqon.v1.proto";
const INVALID_ARGUMENT = 19;
const enc = new TextEncoder();

interface Spec {
  coherence: number;
  criticality: number;
  eigenvalues: number[];
}

/** A `Spectral` message: doubles as wire type 1 (fields 1, 2), eigenvalues packed (3). */
function spectralBytes(s: Spec): Uint8Array {
  const n = s.eigenvalues.length;
  const out = new Uint8Array(18 + (n > 0 ? 2 + n * 8 : 0));
  const v = new DataView(out.buffer);
  out[0] = 0x09;
  v.setFloat64(1, s.coherence, true);
  out[9] = 0x11;
  v.setFloat64(10, s.criticality, true);
  if (n > 0) {
    out[18] = 0x1a;
    out[19] = n * 8; // n <= 15 in these tests: a one-byte length
    s.eigenvalues.forEach((e, i) => v.setFloat64(20 + i * 8, e, true));
  }
  return out;
}

/** Reads a delivered pulse's `Spectral` back (field 8), or null. */
function spectralOf(pulse: PbMessage): Spec | null {
  if (!pulse.has(8)) return null;
  const m = msg(pulse, 8);
  const f64 = (b: Uint8Array | undefined) =>
    b ? new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true) : 0;
  // Repeated doubles arrive packed (one LEN field) or not (one 8-byte field each): both
  // are valid protobuf, and each value here is a run of little-endian doubles.
  const eigenvalues: number[] = [];
  for (const run of (m.get(3) ?? []) as Uint8Array[]) {
    const v = new DataView(run.buffer, run.byteOffset, run.length);
    for (let i = 0; i < run.length; i += 8) eigenvalues.push(v.getFloat64(i, true));
  }
  return {
    coherence: f64(m.get(1)?.at(-1) as Uint8Array),
    criticality: f64(m.get(2)?.at(-1) as Uint8Array),
    eigenvalues,
  };
}

const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);
const subscribe = (id: number, pattern: string, corr: number, filter?: string) =>
  pb([[F.subscribe, [[1, id], [3, pattern], [12, corr], ...(filter ? [[13, filter]] : [])]]] as [
    number,
    PbField[],
  ][]);
const publish = (corr: number, topic: string, payload: string, spectral?: Uint8Array) =>
  pb([[F.publish, [[1, corr], [2, 1], [3, [
    [3, topic],
    [11, enc.encode(payload)],
    ...(spectral ? [[8, spectral] as PbField] : []),
  ]]]]]);

async function client(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, PROTO);
  s.send(hello(name));
  await s.wait(F.welcome);
  return s;
}

const errors = (s: RawSocket) =>
  s.of(F.error).map((e) => ({ code: num(e, 1), message: str(e, 2), corr: num(e, 3) }));

Deno.test("spectral_filter delivers only matching pulses; spectral survives the trip", async () => {
  await withNode(async (node) => {
    const sub = await client(node.wsUrl, "watcher");
    sub.send(subscribe(1, "mesh.>", 10, "coherence >= 0.75"));
    sub.send(subscribe(2, "mesh.>", 20));
    sub.send(subscribe(3, "mesh.>", 30, "criticality < 0.2 && coherence > 0.5"));
    await sub.wait(F.subscribed, 3);
    const pub = await client(node.wsUrl, "mesh");
    const spec = (coherence: number, criticality = 0, eigenvalues: number[] = []) =>
      spectralBytes({ coherence, criticality, eigenvalues });
    const sent: [string, Uint8Array | undefined][] = [
      ["high", spec(0.9, 0.1, [1.5, -2.25, 1e-300])],
      ["low", spec(0.5)],
      ["none", undefined],
      ["edge", spec(0.75, 0.5)],
      ["below", spec(0.7499999)],
      ["full", spec(1, 0.19999, [3])],
    ];
    sent.forEach(([text, s], i) => pub.send(publish(i + 1, "mesh.node.phase", text, s)));
    await pub.wait(F.ack, sent.length);
    await sub.until(() => sub.of(F.deliver).length === 6 + 3 + 3, "12 deliveries");
    const by = (id: number) =>
      sub.of(F.deliver).filter((d) => num(d, 1) === id).map((d) => msg(d, 2));
    assert.deepEqual(by(2).map((p) => str(p, 11)), sent.map(([t]) => t));
    assert.deepEqual(by(1).map((p) => str(p, 11)), ["high", "edge", "full"]);
    assert.deepEqual(by(3).map((p) => str(p, 11)), ["high", "below", "full"]);
    assert.deepEqual(spectralOf(by(1)[0]), {
      coherence: 0.9,
      criticality: 0.1,
      eigenvalues: [1.5, -2.25, 1e-300],
    });
    assert.equal(spectralOf(by(2)[2]), null);
    await sub.close();
    await pub.close();
  });
});

Deno.test("bad filters and bad spectral metadata are INVALID_ARGUMENT; the node keeps serving", async () => {
  await withNode(async (node) => {
    const s = await client(node.wsUrl, "hostile");
    s.send(subscribe(1, "mesh.>", 11, "coherence >> 1"));
    s.send(subscribe(2, "mesh.>", 12, "coherence >= 0.5 || ".repeat(13) + "coherence > 1"));
    s.send(subscribe(3, "mesh.>", 13, "energy > 1"));
    await s.wait(F.error, 3);
    assert.deepEqual(errors(s).map((e) => [e.code, e.corr]), [
      [INVALID_ARGUMENT, 11],
      [INVALID_ARGUMENT, 12],
      [INVALID_ARGUMENT, 13],
    ]);
    assert.match(errors(s)[0].message, /spectral_filter "coherence >> 1": expected a number/);
    assert.match(errors(s)[1].message, /longer than 256 bytes/);
    assert.match(errors(s)[2].message, /unknown field "energy"/);
    assert.equal(await metric(node, "arqon_subscriptions"), 0, "nothing half-opened");
    // The same ids work once the filter is valid.
    s.send(subscribe(1, "mesh.>", 14, "coherence > 0"));
    await s.wait(F.subscribed);

    const spec = (c: number, k: number, e: number[]) =>
      spectralBytes({ coherence: c, criticality: k, eigenvalues: e });
    s.send(publish(21, "mesh.a", "nan", spec(NaN, 0, [])));
    s.send(publish(22, "mesh.a", "inf", spec(0.5, -Infinity, [])));
    s.send(publish(23, "mesh.a", "eigen-nan", spec(0.5, 0, [1, NaN])));
    await s.wait(F.error, 6);
    assert.deepEqual(errors(s).slice(3).map((e) => [e.code, e.corr]), [
      [INVALID_ARGUMENT, 21],
      [INVALID_ARGUMENT, 22],
      [INVALID_ARGUMENT, 23],
    ]);
    assert.match(errors(s)[3].message, /spectral.coherence must be a finite number/);
    // 64 eigenvalues pass, 65 do not (a two-byte packed length, written by hand).
    const many = (n: number) => {
      const out = new Uint8Array(18 + 3 + n * 8);
      const v = new DataView(out.buffer);
      out[0] = 0x09;
      v.setFloat64(1, 0.8, true);
      out[9] = 0x11;
      out[18] = 0x1a;
      out[19] = ((n * 8) & 0x7f) | 0x80;
      out[20] = (n * 8) >> 7;
      for (let i = 0; i < n; i++) v.setFloat64(21 + i * 8, i, true);
      return out;
    };
    s.send(publish(31, "mesh.a", "64", many(64)));
    s.send(publish(32, "mesh.a", "65", many(65)));
    await s.wait(F.error, 7);
    assert.deepEqual(errors(s)[6], {
      code: INVALID_ARGUMENT,
      message: "spectral.eigenvalues has 65 values, more than the limit of 64",
      corr: 32,
    });
    const acks = await s.wait(F.ack);
    assert.deepEqual(acks.map((a) => num(a, 1)), [31]);
    await s.until(() => s.of(F.deliver).length === 1, "the 64-eigenvalue pulse");
    assert.equal(spectralOf(msg(s.of(F.deliver)[0], 2))!.eigenvalues.length, 64);
    assert.equal(acks.length, 1, "only the valid pulse was sequenced");
    await s.close();
  });
});

/** Reads SSE `pulse` events until `count` arrived; returns their payload texts. */
async function ssePayloads(res: Response, count: number): Promise<string[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const out: string[] = [];
  let buf = "";
  while (out.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let sep;
    while ((sep = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      if (!block.includes("event: pulse")) continue;
      const data = block.split("\n").find((l) => l.startsWith("data:"))!.slice(5).trim();
      out.push(atob(JSON.parse(data).payload));
    }
  }
  await reader.cancel();
  return out;
}

Deno.test("SSE takes ?spectral_filter=; a bad one is a 400 with a JSON error", async () => {
  await withNode(async (node) => {
    const q = encodeURIComponent("coherence >= 0.75 && criticality < 1");
    const sse = await fetch(
      `${node.url}/v1/realities/lab/subscribe?pattern=mesh.>&spectral_filter=${q}`,
    );
    assert.equal(sse.status, 200);
    const got = ssePayloads(sse, 2);
    while ((await metric(node, "arqon_subscriptions")) < 1) {
      await new Promise((r) => setTimeout(r, 5));
    }
    // A JSON-subprotocol publisher: spectral in the proto3 JSON mapping.
    const pub = await RawSocket.open(node.wsUrl, "arqon.v1.json");
    pub.send(JSON.stringify({ hello: { clientName: "j", protocolVersion: 1 } }));
    await pub.until(() => pub.json.some((f) => f.welcome), "welcome");
    const pulses: [string, unknown][] = [
      ["a", { coherence: 0.8, criticality: 0.5 }],
      ["b", { coherence: 0.8, criticality: 2 }],
      ["c", undefined],
      ["d", { coherence: 0.6 }],
      ["e", { coherence: "0.95", eigenvalues: [1, 2] }],
    ];
    pulses.forEach(([text, spectral], i) =>
      pub.send(JSON.stringify({
        publish: {
          correlationId: i + 1,
          ack: "ACK_MODE_RECEIVED",
          pulse: { topic: "mesh.x", realityId: "lab", payload: btoa(text), spectral },
        },
      }))
    );
    // The JSON mapping's "NaN" reads as a double; the node refuses it all the same.
    pub.send(JSON.stringify({
      publish: {
        correlationId: 9,
        ack: "ACK_MODE_RECEIVED",
        pulse: { topic: "mesh.x", realityId: "lab", spectral: { coherence: "NaN" } },
      },
    }));
    assert.deepEqual(await got, ["a", "e"]);
    await pub.until(() => pub.json.some((f) => f.error), "error");
    const err = pub.json.find((f) => f.error)!.error as Record<string, unknown>;
    assert.equal(err.code, "ERROR_CODE_INVALID_ARGUMENT");
    assert.equal(err.correlationId, "9");
    await pub.close();

    for (const bad of ["coherence", "(coherence > 1", "x".repeat(300)]) {
      const res = await fetch(
        `${node.url}/v1/realities/lab/subscribe?pattern=mesh.>&spectral_filter=${
          encodeURIComponent(bad)
        }`,
      );
      assert.equal(res.status, 400, bad);
      const body = await res.json();
      assert.equal(body.error.code, "INVALID_ARGUMENT");
      assert.match(body.error.message, /spectral_filter/);
    }
  });
});

Deno.test("operators read spectral on inputs and set it on outputs; a bad one is a counted failure", async () => {
  const echo = await testOperatorComponent("spectral_echo");
  await withNode(async (node) => {
    const form = new FormData();
    form.append("component", new Blob([echo]), "echo.wasm");
    form.append("manifest", JSON.stringify({ inputs: ["probe.>"] }));
    const put = await fetch(`${node.url}/v1/operators/echo`, { method: "PUT", body: form });
    assert.equal(put.status, 201, await put.text());
    const s = await client(node.wsUrl, "prober");
    s.send(subscribe(1, "echo.out", 10, "coherence > 1.5"));
    s.send(subscribe(2, "echo.out", 20));
    await s.wait(F.subscribed, 2);
    const spec = (c: number, k: number, e: number[]) =>
      spectralBytes({ coherence: c, criticality: k, eigenvalues: e });
    s.send(publish(1, "probe.a", "go", spec(0.75, 0.5, [1, 2, 3])));
    s.send(publish(2, "probe.a", "many")); // 65 eigenvalues: the pulse fails
    s.send(publish(3, "probe.a", "nan")); // NaN coherence: the pulse fails
    s.send(publish(4, "probe.a", "go", spec(0.25, -1, [])));
    s.send(publish(5, "probe.a", "none"));
    await s.until(() => s.of(F.deliver).filter((d) => num(d, 1) === 2).length === 3, "3 outputs");
    const by = (id: number) =>
      s.of(F.deliver).filter((d) => num(d, 1) === id).map((d) => msg(d, 2));
    const outs = by(2);
    assert.deepEqual(spectralOf(outs[0]), {
      coherence: 1.75,
      criticality: 1,
      eigenvalues: [3, 2, 1],
    });
    assert.deepEqual(spectralOf(outs[1]), { coherence: 1.25, criticality: -2, eigenvalues: [] });
    assert.equal(spectralOf(outs[2]), null);
    assert.equal(str(outs[0], 4), "operator:echo");
    // Only the first output passes `coherence > 1.5`.
    assert.equal(by(1).length, 1);
    assert.equal(str(by(1)[0], 11), str(outs[0], 11));
    const info = await (await fetch(`${node.url}/v1/operators/echo`)).json();
    assert.equal(info.counters.pulsesIn, 5);
    assert.equal(info.counters.pulsesOut, 3);
    assert.equal(info.counters.failures, 2);
    await s.close();
  });
});

Deno.test("the TypeScript client subscribes with spectralFilter and publishes spectral", async () => {
  await withNode(async (node) => {
    const c = await ArqonClient.connect(node.wsUrl, { name: "sdk" });
    const got: string[] = [];
    const sub = c.subscribe("mesh.>", {
      spectralFilter: "coherence >= 0.75",
      onPulse: (p) => got.push(new TextDecoder().decode(p.payload)),
    });
    await sub.ready;
    for (const [text, coherence] of [["a", 0.9], ["b", 0.1], ["c", 0.75]] as const) {
      await c.publish("mesh.x", text, { pulse: { spectral: { coherence } } });
    }
    await c.publish("mesh.x", "d"); // no spectral: never matches
    await c.publish("mesh.x", "f", { pulse: { spectral: { coherence: 1 } } });
    // Deliveries keep publish order: had "b" or "d" passed, they would come before "f".
    const deadline = Date.now() + 5000;
    while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(got, ["a", "c", "f"]);
    await assert.rejects(
      c.publish("mesh.x", "e", { pulse: { spectral: { coherence: NaN } } }),
      /spectral.coherence must be a finite number/,
    );
    await c.close();
  });
});
