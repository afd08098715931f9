/**
 * `harmonics` on a real node: built from AssemblyScript, installed over HTTP (multipart, as
 * any operator until `{"builtin": "harmonics"}` installs land), fed float32 payloads by a raw
 * WebSocket client speaking hand-built protobuf frames; every emitted vector must equal the
 * TypeScript reference's bytes, in input order. A pulse the program cannot run on is a
 * counted failure while the operator and plain pub/sub keep serving.
 */
import assert from "node:assert/strict";
import { base64 } from "@scure/base";
import { F, msg, num, pb, type PbMessage, str } from "../../../tests/support/pb.ts";
import { RawSocket } from "../../../tests/support/raw_ws.ts";
import { withNode } from "../../../tests/support/node.ts";
import { buildOperatorCached, OPERATOR_BUILD_DIR } from "../../build/mod.ts";
import { assemble, buildHarmonics, decodeProgram, HARMONICS_SOURCE, run } from "./mod.ts";
import { mulberry32, randomPayload } from "./testdata/gen.ts";

const PROTO = "arqon.v1.proto";
const component = await buildHarmonics();
const card = JSON.parse(await Deno.readTextFile(new URL("./card.json", import.meta.url)));

/** A dense layer of three units (tanh, sigmoid, relu) and two statistics. */
const LAYER = `
.topic vec.out.layer
.topic vec.out.stats
load r0, 0, 8
const r1, 0.5, -0.25, 0.125, 1, -1, 0.75, 0.3, -0.6
const r2, -0.2, 0.4, 0.9, -0.8, 0.05, 0.6, -0.7, 0.1
const r3, 1.5, 0.5, -0.5, -1.5, 2, -2, 0.25, -0.25
dot r4, r0, r1
dot r5, r0, r2
dot r6, r0, r3
const r7, 0.1
add r4, r4, r7
add r5, r5, r7
add r6, r6, r7
act r4, r4, tanh
act r5, r5, sigmoid
act r6, r6, relu
store r4, 0
store r5, 1
store r6, 2
emit vec.out.layer
sum r8, r0
scale r9, r0, 0.125
store r8, 0
store r9, 1
emit vec.out.stats
`;

async function install(url: string, name: string, manifest: unknown) {
  const form = new FormData();
  form.append("component", new Blob([component]), "harmonics.wasm");
  form.append("manifest", JSON.stringify(manifest));
  const res = await fetch(`${url}/v1/operators/${name}`, { method: "PUT", body: form });
  return { status: res.status, body: await res.json() };
}

const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);
const subscribe = (id: number, pattern: string) =>
  pb([[F.subscribe, [[1, id], [3, pattern], [12, id]]]]);
const publish = (corr: number, topic: string, payload: Uint8Array) =>
  pb([[F.publish, [[1, corr], [2, 1], [3, [[3, topic], [10, "application/octet-stream"], [
    11,
    payload,
  ]]]]]]);

const payloadOf = (p: PbMessage) =>
  (p.get(11)?.at(-1) as Uint8Array | undefined) ?? new Uint8Array(0);
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

async function client(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, PROTO);
  s.send(hello(name));
  await s.wait(F.welcome);
  return s;
}

Deno.test("harmonics on a node: emitted vectors equal the reference's, byte for byte", async () => {
  await withNode(async (node) => {
    const up = await install(node.url, "layer", {
      reality: "default",
      inputs: ["vec.in.>"],
      config: { source: LAYER },
      card,
      limits: { max_outputs: 4 },
    });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const sub = await client(node.wsUrl, "watcher");
    sub.send(subscribe(1, "vec.out.>"));
    sub.send(subscribe(2, "chat.>"));
    await sub.wait(F.subscribed, 2);
    const pub = await client(node.wsUrl, "feeder");

    const program = decodeProgram(assemble(LAYER));
    const rnd = mulberry32(2026);
    const inputs: Uint8Array[] = [];
    for (let i = 0; i < 60; i++) inputs.push(randomPayload(rnd, 8 + (i % 3)));
    // Input 30 is two floats short: its LOAD fails; it must be counted, not emitted.
    inputs[30] = randomPayload(rnd, 6);
    inputs.forEach((p, i) => pub.send(publish(i + 1, `vec.in.s${i % 4}`, p)));
    pub.send(publish(1000, "chat.msg", new TextEncoder().encode("still here")));
    const want = inputs.filter((_, i) => i !== 30).flatMap((p) => run(program, p));
    assert.equal(want.length, 118);
    await sub.until(
      () => sub.of(F.deliver).filter((d) => num(d, 1) === 1).length === want.length,
      `${want.length} vectors`,
      15_000,
    );
    const got = sub.of(F.deliver).filter((d) => num(d, 1) === 1).map((d) => msg(d, 2));
    for (let i = 0; i < want.length; i++) {
      assert.equal(str(got[i], 3), want[i].topic, `output ${i}`);
      assert.equal(hex(payloadOf(got[i])), hex(want[i].payload), `output ${i}`);
      assert.equal(str(got[i], 4), "operator:layer");
      assert.equal(str(got[i], 10), "application/octet-stream");
    }
    await sub.until(() => sub.of(F.deliver).some((d) => num(d, 1) === 2), "plain pub/sub");
    const status = await (await fetch(`${node.url}/v1/operators/layer`)).json();
    assert.equal(status.status, "running");
    assert.equal(status.counters.pulsesIn, 60);
    assert.equal(status.counters.pulsesOut, 118);
    assert.equal(status.counters.failures, 1);
    await sub.close();
    await pub.close();
  });
});

Deno.test("harmonics on a node: a bad program is a 400 naming the line; config topics apply", async () => {
  await withNode(async (node) => {
    const bad = await install(node.url, "bad", {
      inputs: ["vec.in"],
      config: { source: "load r0, 0, 2\ndot r1, r0, r2\n" },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "INVALID_ARGUMENT");
    assert.match(
      bad.body.error.message,
      /line 2: instruction 1: dot: b r2 is read before it is written/,
    );
    const many = await install(node.url, "many", {
      inputs: ["vec.in"],
      config: { source: ".registers 65\nload r0, 0, 1\nemit a" },
    });
    assert.equal(many.status, 400);
    assert.match(many.body.error.message, /line 1: registers 65 is not in 1\.\.64/);

    const bytes = assemble("load r0, 0, 2\nmul r1, r0, r0\nstore r1, 0\nemit 0\n");
    const up = await install(node.url, "sq", {
      inputs: ["vec.in"],
      config: { program: base64.encode(bytes), topics: ["vec.squared"] },
    });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const sub = await client(node.wsUrl, "w");
    sub.send(subscribe(1, "vec.squared"));
    await sub.wait(F.subscribed);
    sub.send(publish(1, "vec.in", new Uint8Array(new Float32Array([3, -0.5]).buffer)));
    const [d] = await sub.wait(F.deliver);
    assert.deepEqual(Array.from(new Float32Array(payloadOf(msg(d, 2)).slice().buffer)), [9, 0.25]);
    await sub.close();
  });
});

Deno.test("harmonics on a node: installed as a built-in with JSON, it runs the same program", async () => {
  // What `deno task build` does for every shipped operator (a no-op when it is up to date).
  await buildOperatorCached(HARMONICS_SOURCE, `${OPERATOR_BUILD_DIR}builtin/harmonics.wasm`);
  await withNode(async (node) => {
    const put = await fetch(`${node.url}/v1/operators/layer`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ builtin: "harmonics", inputs: ["vec.in"], config: { source: LAYER } }),
    });
    assert.equal(put.status, 201, await put.text());
    const got = await (await fetch(`${node.url}/v1/operators/layer`)).json();
    assert.equal(got.status, "running");
    assert.equal(got.builtin, "harmonics", JSON.stringify(got));
    const bad = await fetch(`${node.url}/v1/operators/bad`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        builtin: "harmonics",
        inputs: ["vec.in"],
        config: { source: "frob" },
      }),
    });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /line 1: unknown mnemonic 'frob'/);
    const sub = await client(node.wsUrl, "w");
    sub.send(subscribe(1, "vec.out.>"));
    await sub.wait(F.subscribed);
    const pub = await client(node.wsUrl, "p");
    const input = randomPayload(mulberry32(9), 8);
    pub.send(publish(1, "vec.in", input));
    const want = run(decodeProgram(assemble(LAYER)), input);
    await sub.until(() => sub.of(F.deliver).length === 2, "2 vectors");
    const out = sub.of(F.deliver).map((d) => msg(d, 2));
    assert.deepEqual(out.map((p) => str(p, 3)), want.map((w) => w.topic));
    assert.deepEqual(out.map((p) => hex(payloadOf(p))), want.map((w) => hex(w.payload)));
    await sub.close();
    await pub.close();
  });
});
