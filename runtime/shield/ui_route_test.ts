import assert from "node:assert/strict";
import { Hono } from "hono";
import { asBusError, errorResponse } from "./http_error.ts";
import { uiRoutes } from "./ui_route.ts";

/** The routes behind the node's one error path (typed JSON errors). */
function served(dir: URL): Hono {
  const app = new Hono();
  app.onError((err) => {
    const e = asBusError(err);
    return errorResponse(e.code, e.message);
  });
  app.notFound(() => errorResponse("NOT_FOUND", "no route"));
  app.route("/", uiRoutes({ dir }));
  return app;
}

async function withDir(fn: (dir: URL) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempDir();
  try {
    await fn(new URL(`file://${path}/`));
  } finally {
    await Deno.remove(path, { recursive: true });
  }
}

Deno.test("ui route: serves the built files with their types and a strict CSP", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(new URL("index.html", dir), "<!doctype html><p>shell</p>");
    await Deno.writeTextFile(new URL("app.js", dir), "console.log(1)");
    await Deno.writeTextFile(new URL(".secret", dir), "no");
    const app = served(dir);
    const redirect = await app.request("/ui");
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get("location"), "/ui/");
    const index = await app.request("/ui/");
    assert.equal(index.status, 200);
    assert.equal(await index.text(), "<!doctype html><p>shell</p>");
    assert.match(index.headers.get("content-type")!, /^text\/html/);
    assert.match(index.headers.get("content-security-policy")!, /connect-src 'self'/);
    assert.match(index.headers.get("content-security-policy")!, /frame-ancestors 'none'/);
    assert.equal(index.headers.get("x-content-type-options"), "nosniff");
    const js = await app.request("/ui/app.js");
    assert.match(js.headers.get("content-type")!, /^text\/javascript/);
    assert.equal(await js.text(), "console.log(1)");
    // Nothing but flat, non-hidden names in the folder.
    for (const path of ["/ui/.secret", "/ui/..%2F..%2Fetc%2Fpasswd", "/ui/%2e%2e", "/ui/a/b"]) {
      const res = await app.request(path);
      assert.equal(res.status, 404, path);
      assert.equal((await res.json()).error.code, "NOT_FOUND");
    }
  });
});

Deno.test("ui route: a node without a built dashboard says how to build it", async () => {
  await withDir(async (dir) => {
    const app = served(new URL("missing/", dir));
    const res = await app.request("/ui/");
    assert.equal(res.status, 404);
    const body = await res.json();
    assert.equal(body.error.code, "NOT_FOUND");
    assert.match(body.error.message, /deno task build/);
  });
});
