/**
 * Circuits given bad input, on a real node over HTTP (fetch): each is a typed 4xx
 * `{"error":{"code","message"}}` and nothing is installed; an incompatible hop names the
 * hop, the property and the reason; a replacement that fails midway leaves the previous
 * circuit as it was; the node keeps serving.
 */
import assert from "node:assert/strict";
import { withNode } from "./support/node.ts";
import { buildOperatorCached, OPERATOR_BUILD_DIR, REPO_ROOT } from "../operators/build/mod.ts";
import type { ArqonNode } from "../mod.ts";

await buildOperatorCached(
  `${REPO_ROOT}operators/builtin/echo/assembly/operator.ts`,
  `${OPERATOR_BUILD_DIR}builtin/echo.wasm`,
);

async function put(node: ArqonNode, name: string, body: unknown, reality = "default") {
  const res = await fetch(`${node.url}/v1/realities/${reality}/circuits/${name}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function refused(
  node: ArqonNode,
  body: unknown,
  status: number,
  code: string,
  message: RegExp,
) {
  const r = await put(node, "bad", body);
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error.code, code);
  assert.match(r.body.error.message, message);
  return r.body.error;
}

async function operatorNames(node: ArqonNode): Promise<string[]> {
  return (await (await fetch(`${node.url}/v1/operators`)).json()).map((o: { name: string }) =>
    o.name
  );
}

const echo = (to: string, card?: unknown) => ({
  builtin: "echo",
  config: { to },
  ...(card ? { card } : {}),
});

/** Publishes JSON on `topic` and waits for a pulse on `want` through SSE. */
async function roundTrip(node: ArqonNode, topic: string, want: string, body: unknown) {
  const ctl = new AbortController();
  const res = await fetch(`${node.url}/v1/realities/default/subscribe?pattern=${want}`, {
    signal: ctl.signal,
  });
  const reader = res.body!.getReader();
  let text = "";
  const dec = new TextDecoder();
  while (!text.includes("event: subscribed")) text += dec.decode((await reader.read()).value);
  const pub = await fetch(`${node.url}/v1/realities/default/topics/${topic}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(pub.status, 200);
  await pub.body?.cancel();
  const deadline = Date.now() + 15_000;
  while (!text.includes("event: pulse")) {
    assert.ok(Date.now() < deadline, `no pulse on ${want}`);
    text += dec.decode((await reader.read()).value);
  }
  ctl.abort();
  await reader.cancel().catch(() => {});
}

Deno.test("circuits: bad definitions are typed 4xx errors and install nothing", async () => {
  await withNode(async (node) => {
    const before = await operatorNames(node);
    await refused(node, "{not json", 400, "INVALID_ARGUMENT", /not valid JSON/);
    await refused(node, [], 400, "INVALID_ARGUMENT", /must be a JSON object/);
    await refused(node, { stages: [] }, 400, "INVALID_ARGUMENT", /non-empty array/);
    await refused(node, { stages: [], x: 1 }, 400, "INVALID_ARGUMENT", /unknown field "x"/);
    const many = Array.from({ length: 17 }, (_, i) => ({
      operator: echo(`t${i + 1}`),
      in: `t${i}`,
      out: `t${i + 1}`,
    }));
    await refused(node, { stages: many }, 400, "INVALID_ARGUMENT", /17 stages exceed .* 16/);
    await refused(
      node,
      { stages: [{ operator: echo("b"), in: "a.>", out: "b" }] },
      400,
      "INVALID_ARGUMENT",
      /stages\[0\]\.in: .*no wildcards/,
    );
    await refused(
      node,
      { stages: [{ operator: echo("c"), in: "a", out: "b" }] },
      400,
      "INVALID_ARGUMENT",
      /config.to "c" is not its out/,
    );
    // A missing operator, a missing built-in.
    await refused(
      node,
      { stages: [{ operator: "nope", in: "a", out: "b" }] },
      404,
      "NOT_FOUND",
      /stages\[0\]\.operator: no operator nope/,
    );
    await refused(
      node,
      { stages: [{ operator: { builtin: "nope" }, in: "a", out: "b" }] },
      404,
      "NOT_FOUND",
      /no built-in operator "nope" \(built-ins: .*echo/,
    );
    // A cycle; two stages writing one topic.
    await refused(
      node,
      {
        stages: [
          { operator: echo("b"), in: "a", out: "b" },
          { operator: echo("c"), in: "b", out: "c" },
          { operator: echo("a"), in: "c", out: "a" },
        ],
      },
      400,
      "INVALID_ARGUMENT",
      /cycle: a -> b -> c -> a/,
    );
    await refused(
      node,
      { stages: [{ operator: echo("a"), in: "a", out: "a" }] },
      400,
      "INVALID_ARGUMENT",
      /cycle/,
    );
    await refused(
      node,
      {
        stages: [
          { operator: echo("x"), in: "a", out: "x" },
          { operator: echo("x"), in: "b", out: "x" },
        ],
      },
      400,
      "INVALID_ARGUMENT",
      /stage 0 \("echo"\) and stage 1 \("echo"\) both write topic x/,
    );
    // A stage schema that is not a valid JSON Schema.
    await refused(
      node,
      {
        stages: [{
          operator: echo("b", { capabilities: [], input_schema: { type: "nope" } }),
          in: "a",
          out: "b",
        }],
      },
      400,
      "INVALID_ARGUMENT",
      /stages\[0\]\.operator\.card: card: input_schema: /,
    );
    await refused(
      node,
      {
        stages: [{
          operator: echo("b", { capabilities: [], output_schema: { typo: 1 } }),
          in: "a",
          out: "b",
        }],
      },
      400,
      "INVALID_ARGUMENT",
      /output_schema: .*unknown keyword/,
    );
    // An incompatible hop: 422 naming the hop, the property and the reason.
    const error = await refused(
      node,
      {
        stages: [{
          operator: echo("b", {
            capabilities: [],
            output_schema: {
              type: "object",
              required: ["x"],
              properties: { x: { type: "number" } },
            },
          }),
          in: "a",
          out: "b",
        }, {
          operator: echo("c", {
            capabilities: [],
            input_schema: {
              type: "object",
              required: ["x"],
              properties: { x: { type: "integer" } },
            },
          }),
          in: "b",
          out: "c",
        }],
      },
      422,
      "SCHEMA_VIOLATION",
      /hop 1 \(stage 0 \("echo"\) -> stage 1 \("echo"\) on b\): property "\/x": type "number"/,
    );
    assert.deepEqual([error.hop, error.property], [1, "/x"]);
    assert.match(error.reason, /not accepted \(consumer: integer\)/);
    // A named operator that does not read the stage's topic, or lives in another reality.
    const op = await fetch(`${node.url}/v1/operators/named`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ builtin: "echo", inputs: ["in.>"], config: { to: "out" } }),
    });
    assert.equal(op.status, 201);
    await op.body?.cancel();
    await refused(
      node,
      { stages: [{ operator: "named", in: "elsewhere", out: "out" }] },
      400,
      "INVALID_ARGUMENT",
      /does not read elsewhere \(its inputs: in.>\)/,
    );
    const other = await put(node, "bad", {
      stages: [{ operator: "named", in: "in.x", out: "out" }],
    }, "other");
    assert.equal(other.status, 400);
    assert.match(other.body.error.message, /runs in reality default, not other/);
    // Names, and a body over the limit.
    const badName = await put(node, "Bad!", { stages: [] });
    assert.equal(badName.status, 400);
    const huge = await put(node, "bad", JSON.stringify({ pad: "x".repeat(1 << 20) }));
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error.code, "FRAME_TOO_LARGE");
    // Nothing was installed, and the node serves on.
    assert.deepEqual(await operatorNames(node), [...before, "named"].sort());
    const list = await (await fetch(`${node.url}/v1/realities/default/circuits`)).json();
    assert.deepEqual(list, []);
    await roundTrip(node, "in.x", "out", { still: "serving" });
  });
});

Deno.test("circuits: a replacement failing midway leaves the previous circuit untouched", async () => {
  await withNode(async (node) => {
    const card = (capability: string) => ({ capabilities: [capability] });
    const v1 = {
      stages: [
        { operator: echo("b", card("v1-first")), in: "a", out: "b" },
        { operator: echo("c", card("v1-second")), in: "b", out: "c" },
      ],
    };
    const first = await put(node, "pipe", v1);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const ops: string[] = first.body.stages.map((s: { operator: string }) => s.operator);
    // Stages are installed consumers first: the second is switched, then the first fails
    // (echo refuses a config without "to"), so the second is switched back.
    const v2 = {
      stages: [
        { operator: { builtin: "echo", config: {}, card: card("v2-first") }, in: "a", out: "b" },
        { operator: echo("c", card("v2-second")), in: "b", out: "c" },
      ],
    };
    const failed = await put(node, "pipe", v2);
    assert.equal(failed.status, 400, JSON.stringify(failed.body));
    assert.match(failed.body.error.message, /stage 0 \("echo"\): .*config.to/);
    const got = await (await fetch(`${node.url}/v1/realities/default/circuits/pipe`)).json();
    assert.deepEqual(got.spec, v1);
    const { agents } = await (await fetch(`${node.url}/v1/realities/default/agents`)).json();
    const caps = Object.fromEntries(
      agents.map((a: { name: string; capabilities: string[] }) => [a.name, a.capabilities]),
    );
    assert.deepEqual([caps[ops[0]], caps[ops[1]]], [["v1-first"], ["v1-second"]]);
    await roundTrip(node, "a", "c", { through: "v1" });
    // A replacement with fewer stages removes the operator of the stage it dropped.
    const v3 = { stages: [{ operator: echo("b", card("v3")), in: "a", out: "b" }] };
    const third = await put(node, "pipe", v3);
    assert.equal(third.status, 200, JSON.stringify(third.body));
    assert.deepEqual(await operatorNames(node), [ops[0]]);
    await roundTrip(node, "a", "b", { through: "v3" });
  });
});
