import assert from "node:assert/strict";
import { addPayloadView, foldPayloadView, payloadViewOf } from "./payload_view.ts";

Deno.test("payloadViewOf: JSON types, +json suffixes and text; others none", () => {
  assert.equal(payloadViewOf("application/json"), "data");
  assert.equal(payloadViewOf("Application/JSON ; charset=utf-8"), "data");
  assert.equal(payloadViewOf("application/cloudevents+json"), "data");
  assert.equal(payloadViewOf("text/csv"), "text");
  assert.equal(payloadViewOf("application/jsonx"), undefined);
  assert.equal(payloadViewOf("application/json-seq"), undefined);
  assert.equal(payloadViewOf("+json"), undefined);
  assert.equal(payloadViewOf(""), undefined);
  assert.equal(payloadViewOf(undefined), undefined);
});

Deno.test("addPayloadView: hostile payloads leave the bytes alone", () => {
  const b64 = (s: string) => btoa(s);
  assert.deepEqual(
    addPayloadView({ contentType: "application/json", payload: b64("1e999") }).data,
    Infinity,
  );
  assert.equal(addPayloadView({ contentType: "application/json", payload: "%%%" }).data, undefined);
  assert.equal(
    addPayloadView({ contentType: "application/json", payload: b64("") }).data,
    undefined,
  );
  assert.equal(
    addPayloadView({ contentType: "text/plain", payload: b64("\xc3\x28") }).text,
    undefined,
  );
  const deep = "[".repeat(5000) + "]".repeat(5000);
  assert.ok(
    Array.isArray(addPayloadView({ contentType: "application/json", payload: b64(deep) }).data),
  );
  assert.deepEqual(addPayloadView({ contentType: "text/plain" }), { contentType: "text/plain" });
});

Deno.test("foldPayloadView: data/text become payload; payload wins over views", () => {
  const folded = foldPayloadView({ topic: "t", data: { a: [1] } });
  assert.equal(atob(folded.payload as string), '{"a":[1]}');
  assert.equal(folded.contentType, "application/json");
  assert.ok(!("data" in folded));
  const text = foldPayloadView({ text: "é", contentType: "text/markdown" });
  assert.equal(
    new TextDecoder().decode(Uint8Array.from(atob(text.payload as string), (c) => c.charCodeAt(0))),
    "é",
  );
  assert.equal(text.contentType, "text/markdown");
  assert.deepEqual(foldPayloadView({ payload: "AA==", data: 1, text: "x" }), { payload: "AA==" });
  assert.deepEqual(foldPayloadView({ data: null }).payload, btoa("null"));
});
