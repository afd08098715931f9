import assert from "node:assert/strict";
import { testPolicyComponent } from "./build/mod.ts";
import { builtinComponent, PolicyEngine, PolicyError, policyRoutes } from "./mod.ts";
import { AuditLog } from "../runtime/telemetry/audit/mod.ts";

function setup(actor?: (auth: string | undefined) => string) {
  const audit = AuditLog.open();
  const engine = new PolicyEngine({ audit, log: () => {}, maxUploadBytes: 100_000 });
  const app = policyRoutes(engine, {
    builtin: builtinComponent,
    actor: actor ? (c) => actor(c.req.header("authorization")) : undefined,
  });
  return { app, engine, audit };
}

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = await res.json();
  return { status: res.status, code: body.error.code, message: body.error.message };
}

Deno.test("PUT installs with bindings and config from the query, 201 then 200", async () => {
  const { app, engine } = setup();
  const bytes = await builtinComponent("energy_cap");
  let res = await app.request(
    "/v1/policies/energy?reality=lab&reality=prod&topic=nvm.>&order=5&config=" +
      encodeURIComponent('{"max_joules":10}'),
    { method: "PUT", body: bytes, headers: { "content-type": "application/wasm" } },
  );
  assert.equal(res.status, 201);
  const created = await res.json();
  assert.deepEqual(created.binding, { realities: ["lab", "prod"], topics: ["nvm.>"], order: 5 });
  assert.equal(created.config, '{"max_joules":10}');
  assert.equal(created.version, 1);
  assert.equal(created.available, true);
  assert.match(created.digest, /^[0-9a-f]{64}$/);
  res = await app.request("/v1/policies/energy", {
    method: "PUT",
    body: bytes,
    headers: { "arqon-policy-config": '{"max_joules":20}' },
  });
  assert.equal(res.status, 200);
  const replaced = await res.json();
  assert.equal(replaced.version, 2);
  assert.equal(replaced.config, '{"max_joules":20}');
  // Bindings are kept on replace unless given again.
  assert.deepEqual(replaced.binding.realities, ["lab", "prod"]);
  assert.deepEqual(engine.chain("lab", "nvm.job.submit"), ["energy"]);
});

Deno.test("built-ins install by name; list, get, binding change and delete", async () => {
  const { app, engine } = setup();
  let res = await app.request("/v1/policies/size?builtin=payload_size_cap", { method: "PUT" });
  assert.equal(res.status, 201);
  res = await app.request("/v1/policies/size/binding", {
    method: "PUT",
    body: JSON.stringify({ topics: ["a.*"], order: 3 }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual((await res.json()).binding, { realities: ["*"], topics: ["a.*"], order: 3 });
  res = await app.request("/v1/policies");
  assert.deepEqual((await res.json()).policies.map((p: { name: string }) => p.name), ["size"]);
  res = await app.request("/v1/policies/size");
  assert.equal((await res.json()).version, 2);
  res = await app.request("/v1/policies/size", { method: "DELETE" });
  assert.equal((await res.json()).deleted.name, "size");
  assert.deepEqual(engine.list(), []);
  assert.deepEqual(await errorOf(await app.request("/v1/policies/size")), {
    status: 404,
    code: "NOT_FOUND",
    message: "no policy named size",
  });
  const missing = await errorOf(
    await app.request("/v1/policies/x?builtin=nope", { method: "PUT" }),
  );
  assert.equal(missing.status, 404);
});

Deno.test("bad uploads get 4xx JSON errors", async () => {
  const { app } = setup();
  const put = (path: string, body?: BodyInit) => app.request(path, { method: "PUT", body });
  let e = await errorOf(await put("/v1/policies/g", new TextEncoder().encode("garbage bytes")));
  assert.deepEqual([e.status, e.code], [400, "INVALID_ARGUMENT"]);
  assert.match(e.message, /policy rejected \(not_a_component\)/);
  e = await errorOf(await put("/v1/policies/big", new Uint8Array(100_001)));
  assert.deepEqual([e.status, e.code], [413, "FRAME_TOO_LARGE"]);
  e = await errorOf(await put("/v1/policies/s", await testPolicyComponent("start_trap")));
  assert.match(e.message, /start function failed/);
  e = await errorOf(await put("/v1/policies/t?topic=a..b", await testPolicyComponent("allow_all")));
  assert.deepEqual([e.status, e.code], [400, "INVALID_ARGUMENT"]);
  e = await errorOf(await put("/v1/policies/Bad!", await testPolicyComponent("allow_all")));
  assert.equal(e.status, 400);
  e = await errorOf(await put("/v1/policies/empty"));
  assert.match(e.message, /must be a Wasm component/);
  e = await errorOf(await app.request("/v1/policies/none/binding", { method: "PUT", body: "{}" }));
  assert.equal(e.status, 404);
});

Deno.test("audit entries are served, paged and verified; actors come from the hook", async () => {
  const { app, audit } = setup((auth) => {
    if (auth === "Bearer admin") return "root";
    throw new PolicyError("FORBIDDEN", "governance needs the admin role");
  });
  const headers = { authorization: "Bearer admin" };
  for (const n of ["a", "b", "c"]) {
    const res = await app.request(`/v1/policies/${n}?builtin=payload_size_cap`, {
      method: "PUT",
      headers,
    });
    assert.equal(res.status, 201);
  }
  const denied = await errorOf(
    await app.request("/v1/policies/d?builtin=payload_size_cap", { method: "PUT" }),
  );
  assert.deepEqual([denied.status, denied.code], [403, "FORBIDDEN"]);
  let res = await app.request("/v1/audit?from=1&limit=2", { headers });
  let page = await res.json();
  assert.deepEqual(page.entries.map((e: { details: { name: string } }) => e.details.name), [
    "a",
    "b",
  ]);
  assert.equal(page.entries[0].actor, "root");
  assert.equal(page.next, 3);
  res = await app.request("/v1/audit?from=3", { headers });
  page = await res.json();
  assert.deepEqual(page.entries.map((e: { seq: number }) => e.seq), [3]);
  assert.equal(page.next, null);
  res = await app.request("/v1/audit/verify", { headers });
  assert.deepEqual(await res.json(), { ok: true, entries: 3 });
  assert.equal(audit.size, 3);
  const bad = await errorOf(await app.request("/v1/audit?limit=0", { headers }));
  assert.equal(bad.status, 400);
});
