import assert from "node:assert/strict";
import {
  CliError,
  durationMs,
  endpoints,
  EXIT,
  headersOf,
  intOption,
  pulseJson,
  pulseLine,
  timeMs,
} from "./common.ts";

Deno.test("endpoints: --server forms give the WebSocket URL and the HTTP base", () => {
  assert.deepEqual(endpoints("ws://h:7420/v1/ws"), {
    ws: "ws://h:7420/v1/ws",
    http: "http://h:7420",
  });
  assert.deepEqual(endpoints("h:9"), { ws: "ws://h:9/v1/ws", http: "http://h:9" });
  assert.deepEqual(endpoints("https://bus.example"), {
    ws: "wss://bus.example/v1/ws",
    http: "https://bus.example",
  });
  assert.deepEqual(endpoints("wss://b:1/custom"), { ws: "wss://b:1/custom", http: "https://b:1" });
  for (const bad of ["ftp://x", "ws://", "::::"]) {
    assert.throws(() => endpoints(bad), (e) => e instanceof CliError && e.exit === EXIT.USAGE);
  }
});

Deno.test("option parsers: durations, times, integers and headers refuse bad input as usage", () => {
  assert.equal(durationMs("t", "500ms"), 500);
  assert.equal(durationMs("t", "2s"), 2000);
  assert.equal(durationMs("t", "1m"), 60_000);
  assert.equal(durationMs("t", "250"), 250);
  assert.equal(timeMs("1700000000000"), 1700000000000);
  assert.equal(timeMs("2024-01-01T00:00:00Z"), Date.UTC(2024, 0, 1));
  const ago = timeMs("-5m");
  assert.ok(Math.abs(Date.now() - 300_000 - ago) < 1000);
  assert.equal(intOption("n", "3", 1), 3);
  assert.equal(intOption("n", undefined, 1), undefined);
  assert.deepEqual(headersOf(["a=1", "b=x=y"]), { a: "1", b: "x=y" });
  assert.equal(headersOf([]), undefined);
  const usage = (e: unknown) => e instanceof CliError && e.exit === EXIT.USAGE;
  for (
    const f of [
      () => durationMs("t", "soon"),
      () => durationMs("t", "-1s"),
      () => timeMs("yesterday"),
      () => intOption("n", "0", 1),
      () => intOption("n", "1.5"),
      () => intOption("n", "1e400"),
      () => headersOf(["=v"]),
      () => headersOf(["novalue"]),
    ]
  ) assert.throws(f, usage);
});

Deno.test("pulseJson: text, JSON data, binary as base64, defaults", () => {
  const enc = new TextEncoder();
  const j = pulseJson({
    topic: "a.b",
    sequence: 7,
    contentType: "application/json",
    payload: enc.encode('{"x":1}'),
    headers: { k: "v" },
  });
  assert.deepEqual(j, {
    topic: "a.b",
    reality: "default",
    sequence: 7,
    id: "",
    time_ms: 0,
    content_type: "application/json",
    headers: { k: "v" },
    payload: '{"x":1}',
    data: { x: 1 },
  });
  const bin = pulseJson({ topic: "b", payload: new Uint8Array([0xff, 0, 1]) });
  assert.equal(bin.payload_base64, "/wAB");
  assert.equal(bin.payload, undefined);
  // A large binary payload (4 MB) encodes without blowing the stack.
  const big = new Uint8Array(4 << 20).fill(0xfe);
  const encoded = pulseJson({ topic: "big", payload: big }).payload_base64 as string;
  assert.equal(encoded.length, Math.ceil(big.length / 3) * 4);
  // A JSON content type over text that is not JSON keeps the text, without data.
  const lie = pulseJson({ topic: "c", contentType: "application/json", payload: enc.encode("{") });
  assert.equal(lie.payload, "{");
  assert.equal("data" in lie, false);
  assert.equal(
    pulseLine({ topic: "t", realityId: "lab", sequence: 3, payload: enc.encode("hi") }),
    "[#3] t (lab): hi",
  );
});
