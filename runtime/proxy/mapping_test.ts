import assert from "node:assert/strict";
import { BusError } from "../protocol/mod.ts";
import {
  pathOfTopic,
  replyHeadersOf,
  requestHeadersOf,
  responseInitOf,
  topicOfPath,
  upstreamCallOf,
} from "./mapping.ts";

const isCode = (code: string) => (e: unknown) => e instanceof BusError && e.code === code;

Deno.test("mapping: topic <-> path", () => {
  assert.equal(pathOfTopic("svc.billing.invoices.list", "svc.billing"), "/invoices/list");
  assert.equal(pathOfTopic("svc.billing.x", "svc.billing"), "/x");
  assert.throws(() => pathOfTopic("svc.billing", "svc.billing"), isCode("INVALID_TOPIC"));
  assert.throws(() => pathOfTopic("svc.billingx.y", "svc.billing"), isCode("INVALID_TOPIC"));
  assert.equal(topicOfPath("/svc/billing/charge"), "svc.billing.charge");
  assert.equal(topicOfPath("/svc/billing/charge/"), "svc.billing.charge");
  for (const bad of ["/", "/svc//x", "/Svc/x", "/svc/a%20b", "/svc/a.b", "/svc/*", "/svc/>"]) {
    assert.throws(() => topicOfPath(bad), isCode("INVALID_TOPIC"), bad);
  }
});

Deno.test("mapping: upstream call from a bus request", () => {
  const call = upstreamCallOf(
    "http://u:9/api/",
    "/invoices/list",
    { "http-method": "put", "http-query": "a=1&b=2", "x-tenant": "t1", connection: "close" },
    "application/json",
    new TextEncoder().encode("{}"),
  );
  assert.equal(call.method, "PUT");
  assert.equal(call.url, "http://u:9/api/invoices/list?a=1&b=2");
  assert.equal(call.headers.get("x-tenant"), "t1");
  assert.equal(call.headers.get("content-type"), "application/json");
  assert.equal(call.headers.get("connection"), null, "hop-by-hop headers stay behind");
  assert.equal(call.headers.get("http-method"), null, "reserved headers are not sent");
  const gz = upstreamCallOf("http://u", "/x", { "accept-encoding": "gzip" }, "", new Uint8Array(0));
  assert.equal(gz.headers.get("accept-encoding"), "identity", "bodies travel as sent");
  assert.equal(upstreamCallOf("http://u", "/x", {}, "", new Uint8Array(0)).method, "POST");
  const get = upstreamCallOf(
    "http://u",
    "/x",
    { "http-method": "GET" },
    "text/plain",
    new Uint8Array(0),
  );
  assert.equal(get.body, undefined);
  assert.equal(get.headers.get("content-type"), null);
});

Deno.test("mapping: a request HTTP cannot carry is INVALID_ARGUMENT", () => {
  const body = new Uint8Array([1]);
  const none = new Uint8Array(0);
  assert.throws(
    () => upstreamCallOf("http://u", "/x", { "http-method": "BREW" }, "", none),
    isCode("INVALID_ARGUMENT"),
  );
  assert.throws(
    () => upstreamCallOf("http://u", "/x", { "http-method": "GET" }, "", body),
    isCode("INVALID_ARGUMENT"),
  );
  assert.throws(
    () => upstreamCallOf("http://u", "/x", { "bad name": "v" }, "", none),
    isCode("INVALID_ARGUMENT"),
  );
  assert.throws(
    () => upstreamCallOf("http://u", "/x", { "x-v": "a\nb" }, "", none),
    isCode("INVALID_ARGUMENT"),
  );
  assert.throws(
    () => upstreamCallOf("http://u", "/x", {}, "a\r\nb", body),
    isCode("INVALID_ARGUMENT"),
  );
});

Deno.test("mapping: replies and HTTP answers", () => {
  const res = new Response("x", {
    status: 503,
    headers: { "x-a": "1", "content-type": "text/plain", connection: "keep-alive" },
  });
  const headers = replyHeadersOf(res);
  assert.equal(headers["http-status"], "503");
  assert.equal(headers["x-a"], "1");
  assert.equal(headers["content-type"], undefined, "carried as the pulse's content type");
  assert.equal(headers.connection, undefined);

  const init = responseInitOf({ "http-status": "201", "x-b": "2", "bad\nname": "v" }, "text/csv");
  assert.equal(init.status, 201);
  assert.equal(init.headers.get("x-b"), "2");
  assert.equal(init.headers.get("content-type"), "text/csv");
  assert.equal(responseInitOf({}, "").status, 200, "an agent's plain reply is a 200");
  for (const s of ["99", "700", "abc", "150", "2.5"]) {
    assert.equal(responseInitOf({ "http-status": s }, "").status, 502, s);
  }

  const req = new Request("http://p/svc/x?q=1", {
    method: "PATCH",
    headers: { "x-c": "3", host: "p", "http-status": "200" },
  });
  const out = requestHeadersOf(req, new URL(req.url));
  assert.deepEqual(out, { "x-c": "3", "http-method": "PATCH", "http-query": "q=1" });
});
