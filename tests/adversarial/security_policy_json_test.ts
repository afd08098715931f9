/**
 * Hostile payloads against the JSON-reading built-in policies, end to end over HTTP (fetch,
 * no SDK): a member named twice must not slip past a policy that read one copy while
 * consumers (`JSON.parse`, Python) read the other, and the energy cap holds as the user
 * story states it ("block any job requesting more than 50 J"): a job that leaves its energy
 * out, or names it as something other than a number, is not let through.
 */
import assert from "node:assert/strict";
import { withNode } from "../support/node.ts";

async function put(url: string, name: string, query: string): Promise<number> {
  const res = await fetch(`${url}/v1/policies/${name}?${query}`, { method: "PUT" });
  await res.body?.cancel();
  return res.status;
}

/** Publishes `body` over HTTP; returns the status and the error code, if any. */
async function publish(url: string, topic: string, body: string) {
  const res = await fetch(`${url}/v1/realities/default/topics/${topic}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  const json = await res.json();
  return { status: res.status, code: json.error?.code, message: json.error?.message ?? "" };
}

Deno.test("energy_cap: a duplicated joules member is denied, not read as its first copy", async () => {
  await withNode(async (node) => {
    assert.equal(await put(node.url, "energy", "builtin=energy_cap&topic=nvm.>"), 201);
    const ok = await publish(node.url, "nvm.job.submit", '{"joules":40}');
    assert.equal(ok.status, 200);
    // What a consumer reads: the last copy.
    assert.equal(JSON.parse('{"joules":40,"joules":60}').joules, 60);
    for (const body of ['{"joules":40,"joules":60}', '{"joules":60,"joules":40}']) {
      const r = await publish(node.url, "nvm.job.submit", body);
      assert.equal(r.code, "POLICY_DENIED", `${body} must be denied, got ${r.status}`);
      assert.match(r.message, /duplicate member name "joules"/);
    }
    // Nested and escaped spellings of the same name are the same member.
    const escaped = await publish(node.url, "nvm.job.submit", '{"joules":1,"jo\\u0075les":99}');
    assert.equal(escaped.code, "POLICY_DENIED");
  });
});

Deno.test("energy_cap: a job without a numeric energy field is denied (fail-closed)", async () => {
  await withNode(async (node) => {
    assert.equal(await put(node.url, "energy", "builtin=energy_cap&topic=nvm.>"), 201);
    for (const body of ['{"job":"render"}', '{"joules":"lots"}', '{"joules":null}', "[1]"]) {
      const r = await publish(node.url, "nvm.job.submit", body);
      assert.equal(r.code, "POLICY_DENIED", `${body} must be denied, got ${r.status}`);
    }
    const missing = await publish(node.url, "nvm.job.submit", '{"job":"render"}');
    assert.match(missing.message, /joules is missing/);
    // Topics the cap does not guard are not its business.
    assert.equal((await publish(node.url, "nvm.job.status", '{"job":"render"}')).status, 200);
  });
});

Deno.test("energy_cap bound as docs/policies.md shows covers every job topic", async () => {
  await withNode(async (node) => {
    const docs = await Deno.readTextFile(new URL("../../docs/policies.md", import.meta.url));
    // The documented binding for the user story: every topic under nvm.job, at any depth.
    const line = docs.split("\n").find((l) => l.includes("builtin=energy_cap"));
    assert.ok(line, "docs/policies.md shows how to bind energy_cap");
    const query = line!.slice(line!.indexOf("?") + 1, line!.lastIndexOf("'"));
    assert.equal(await put(node.url, "energy", query), 201);
    for (const topic of ["nvm.job.submit", "nvm.job.gpu.submit", "nvm.job.batch.eu.submit"]) {
      const r = await publish(node.url, topic, '{"joules":75}');
      assert.equal(r.code, "POLICY_DENIED", `${topic} must be capped, got ${r.status}`);
      assert.equal((await publish(node.url, topic, '{"joules":5}')).status, 200);
    }
  });
});

Deno.test("json_schema: a duplicated member cannot hide an out-of-range value", async () => {
  await withNode(async (node) => {
    const config = JSON.stringify({
      schemas: { "orders.>": { type: "object", properties: { qty: { maximum: 10 } } } },
    });
    const status = await put(
      node.url,
      "schema",
      `builtin=json_schema&topic=orders.>&config=${encodeURIComponent(config)}`,
    );
    assert.equal(status, 201);
    assert.equal((await publish(node.url, "orders.new", '{"qty":5}')).status, 200);
    const r = await publish(node.url, "orders.new", '{"qty":5,"qty":5000}');
    assert.equal(r.code, "POLICY_DENIED");
    assert.match(r.message, /duplicate member name "qty"/);
  });
});
