/**
 * OpenTelemetry end to end: a real node exporting to a small OTLP/HTTP receiver in the test
 * (Deno.serve taking POST /v1/traces), a raw protobuf WebSocket client (no SDK) publishing
 * with a W3C traceparent, a policy installed over HTTP: the receiver gets the pulse's spans
 * in that trace, with the expected names and parents.
 */
import assert from "node:assert/strict";
import { F, pb, type PbField } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { type ArqonNode, startNode } from "../mod.ts";
import { builtinComponent } from "../casil/mod.ts";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const PARENT = "b7ad6b7169203331";
const enc = new TextEncoder();

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** A minimal OTLP/HTTP trace receiver: keeps every span it is sent. */
function receiver() {
  const spans: OtlpSpan[] = [];
  let bad = 0;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method !== "POST" || url.pathname !== "/v1/traces") {
      bad++;
      return new Response("not found", { status: 404 });
    }
    const body = await req.json();
    for (const rs of body.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
    }
    return Response.json({});
  });
  return { spans, server, url: `http://127.0.0.1:${server.addr.port}`, bad: () => bad };
}

const publish = (corr: number, topic: string, extra: PbField[] = []) =>
  pb([[F.publish, [[1, corr], [2, 1], [3, [[3, topic], [11, enc.encode("p")], ...extra]]]]]);

Deno.test("otel: a pulse's spans reach the collector under its traceparent", async () => {
  const otlp = receiver();
  let node: ArqonNode | undefined;
  try {
    node = await startNode({ port: 0, log: "quiet", otelEndpoint: otlp.url });
    assert.ok(node.spine.tracer, "an endpoint creates a tracer");
    const put = await fetch(`${node.url}/v1/policies/cap`, {
      method: "PUT",
      body: await builtinComponent("payload_size_cap"),
    });
    assert.equal(put.status, 201, await put.text());
    const sub = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    sub.send(pb([[F.hello, [[1, "otel-sub"], [2, 1]]]]));
    await sub.wait(F.welcome);
    sub.send(pb([[F.subscribe, [[1, 1], [3, "otel.>"], [12, 1]]]]));
    sub.send(pb([[F.subscribe, [[1, 2], [3, "otel.*"], [12, 2]]]]));
    await sub.wait(F.subscribed, 2);
    const pubs = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    pubs.send(pb([[F.hello, [[1, "otel-pub"], [2, 1]]]]));
    await pubs.wait(F.welcome);
    pubs.send(
      publish(1, "otel.a", [[7, [[1, "traceparent"], [2, `00-${TRACE_ID}-${PARENT}-01`]]]]),
    );
    pubs.send(publish(2, "otel.b")); // no traceparent: a new trace of its own
    await pubs.wait(F.ack, 2);
    await sub.wait(F.deliver, 4);
    await sub.close();
    await pubs.close();
  } finally {
    await node?.shutdown(); // flushes the span batch
  }
  try {
    const traced = otlp.spans.filter((s) => s.traceId === TRACE_ID);
    const names = traced.map((s) => s.name).sort();
    assert.deepEqual(names, [
      "arqon.deliver",
      "arqon.deliver",
      "arqon.policies",
      "arqon.publish",
      "arqon.sequence",
    ]);
    const root = traced.find((s) => s.name === "arqon.publish")!;
    assert.equal(root.parentSpanId, PARENT, "the publish span's parent is the traceparent's");
    for (const s of traced) {
      if (s !== root) assert.equal(s.parentSpanId, root.spanId, `${s.name} is a child of publish`);
    }
    const other = otlp.spans.filter((s) => s.traceId !== TRACE_ID && s.name === "arqon.publish");
    assert.equal(other.length, 1, "the pulse without a traceparent starts its own trace");
    assert.equal(otlp.bad(), 0);
  } finally {
    await otlp.server.shutdown();
  }
});

Deno.test("otel: no endpoint, no tracer; a bad --otel-sample stops the node at start", async () => {
  const node = await startNode({ port: 0, log: "quiet" });
  try {
    assert.equal(node.spine.tracer, undefined);
  } finally {
    await node.shutdown();
  }
  await assert.rejects(
    () => startNode({ port: 0, log: "quiet", otelEndpoint: "http://127.0.0.1:9", otelSample: "2" }),
    /otel-sample/,
  );
});

Deno.test("otel: --otel-sample 0 exports no new traces but follows a sampled traceparent", async () => {
  const otlp = receiver();
  let node: ArqonNode | undefined;
  try {
    node = await startNode({ port: 0, log: "quiet", otelEndpoint: otlp.url, otelSample: "0" });
    const pubs = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    pubs.send(pb([[F.hello, [[1, "otel-pub0"], [2, 1]]]]));
    await pubs.wait(F.welcome);
    for (let i = 1; i <= 20; i++) pubs.send(publish(i, "otel.none"));
    pubs.send(
      publish(21, "otel.kept", [[7, [[1, "traceparent"], [2, `00-${TRACE_ID}-${PARENT}-01`]]]]),
    );
    await pubs.wait(F.ack, 21);
    await pubs.close();
  } finally {
    await node?.shutdown();
  }
  try {
    assert.ok(otlp.spans.length > 0, "the sampled parent's spans were exported");
    assert.ok(otlp.spans.every((s) => s.traceId === TRACE_ID), "no span of an unsampled trace");
  } finally {
    await otlp.server.shutdown();
  }
});
