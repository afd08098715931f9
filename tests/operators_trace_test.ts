/**
 * A chain of two operator hops is one trace: each output keeps its input's W3C trace id,
 * takes a new span id, and counts the hop; a raw JSON WebSocket client feeds and watches.
 */
import assert from "node:assert/strict";
import { withNode } from "./support/node.ts";
import { call, client, delivered, publish } from "./support/operators.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

function traceparentOf(p: Record<string, unknown>): string {
  return (p.traceContext as Record<string, string> | undefined)?.traceparent ?? "";
}

Deno.test("two operator hops keep the input's trace id, each with a new span id and its hop count", async () => {
  await withNode(async (node) => {
    // in.* -> first -> mid.all -> second -> out.all
    for (const [name, from, to] of [["first", "in.>", "mid.all"], ["second", "mid.>", "out.all"]]) {
      const up = await call(node.url, "PUT", `/v1/operators/${name}`, {
        builtin: "echo",
        inputs: [from],
        config: { to },
      });
      assert.equal(up.status, 201, JSON.stringify(up.body));
    }
    const s = await client(node.wsUrl, ">");
    const traced = `00-${TRACE}-${SPAN}-01`;
    publish(s, "in.a", "traced", { traceContext: { traceparent: traced } });
    publish(s, "in.b", "untraced");
    await s.until(() => delivered(s, "out.all").length === 2, "two outputs of the second hop");

    const mid = delivered(s, "mid.all");
    const out = delivered(s, "out.all");
    assert.deepEqual(out.map((p) => atob(p.payload)), ["traced", "untraced"]);
    const midSpan = traceparentOf(mid[0]);
    const outSpan = traceparentOf(out[0]);
    const shape = new RegExp(`^00-${TRACE}-([0-9a-f]{16})-01$`);
    assert.match(midSpan, shape);
    assert.match(outSpan, shape);
    // Three different spans on one trace: the client's, the first hop's, the second's.
    const spans = new Set([SPAN, shape.exec(midSpan)![1], shape.exec(outSpan)![1]]);
    assert.equal(spans.size, 3, `spans ${[...spans]}`);
    assert.equal((mid[0].headers as Record<string, string>)["arqon-hops"], "1");
    assert.equal((out[0].headers as Record<string, string>)["arqon-hops"], "2");
    assert.equal(out[0].producerId, "operator:second");

    // An input without a trace starts one at the first hop, which the second hop keeps.
    const started = /^00-([0-9a-f]{32})-[0-9a-f]{16}-0[01]$/.exec(traceparentOf(mid[1]));
    assert.ok(started, `first hop started a trace: ${traceparentOf(mid[1])}`);
    assert.notEqual(started[1], TRACE);
    assert.equal(traceparentOf(out[1]).split("-")[1], started[1]);
    s.ws.close();
  });
});
