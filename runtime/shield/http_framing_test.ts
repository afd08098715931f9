import assert from "node:assert/strict";
import { MAX_HEAD_BYTES, RequestFraming } from "./http_framing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function feedAll(framing: RequestFraming, text: string, step = text.length): string {
  const bytes = enc.encode(text);
  let passed = "";
  for (let i = 0; i < bytes.length; i += step) {
    const out: Uint8Array[] = [];
    assert.equal(framing.feed(bytes.subarray(i, i + step), out), undefined);
    passed += out.map((b) => dec.decode(b)).join("");
  }
  return passed;
}

Deno.test("framing: Content-Length bodies and pipelined requests, byte by byte", () => {
  const f = new RequestFraming();
  const text = "POST /a HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n";
  assert.equal(feedAll(f, text, 1), text);
  assert.equal(f.phase, "between");
  assert.equal(f.requests, 2);
});

Deno.test("framing: a head is passed on only once complete", () => {
  const f = new RequestFraming();
  const out: Uint8Array[] = [];
  f.feed(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n"), out);
  assert.equal(out.length, 0);
  assert.equal(f.phase, "head");
  f.feed(enc.encode("\r\n"), out);
  assert.equal(dec.decode(out[0]), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(f.phase, "between");
});

Deno.test("framing: chunked bodies with extensions and trailers", () => {
  const f = new RequestFraming();
  const text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nx-t: 1\r\n\r\n";
  assert.equal(feedAll(f, text.slice(0, 60)), text.slice(0, 60));
  assert.equal(f.phase, "body");
  feedAll(f, text.slice(60), 2);
  assert.equal(f.phase, "between");
});

Deno.test("framing: oversized heads and broken framing are problems", () => {
  const big = new RequestFraming();
  const problem = big.feed(
    enc.encode(`GET / HTTP/1.1\r\nx: ${"a".repeat(MAX_HEAD_BYTES)}\r\n\r\n`),
  );
  assert.equal(problem?.status, 431);
  assert.equal(
    new RequestFraming().feed(enc.encode("POST / HTTP/1.1\r\ncontent-length: x\r\n\r\n"))?.status,
    400,
  );
  const chunked = new RequestFraming();
  chunked.feed(enc.encode("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"));
  assert.equal(chunked.feed(enc.encode("zz\r\n"))?.status, 400);
});
