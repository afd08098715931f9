import assert from "node:assert/strict";
import { BusError } from "../../protocol/mod.ts";
import { parseGrants, PermissionChecker, type Principal } from "./mod.ts";

function principal(grants: unknown, expiresAtMs?: number): Principal {
  return { ...parseGrants(grants), subject: "alice", method: "token", expiresAtMs };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BusError);
    return e.code;
  }
  return "OK";
}

const alice = principal({
  realities: ["lab"],
  publish: { allow: ["orders.>", "metrics.*"], deny: ["orders.secret.>"] },
  subscribe: { allow: ["orders.>"], deny: ["orders.secret.>"] },
  roles: ["client"],
});

Deno.test("publish: allow and deny patterns decide, deny wins, reality is checked", () => {
  const c = new PermissionChecker(alice);
  assert.equal(code(() => c.authorizePublish("lab", "orders.eu.created")), "OK");
  assert.equal(code(() => c.authorizePublish("lab", "metrics.cpu")), "OK");
  assert.equal(code(() => c.authorizePublish("lab", "metrics.cpu.load")), "FORBIDDEN");
  assert.equal(code(() => c.authorizePublish("lab", "orders.secret.keys")), "FORBIDDEN");
  assert.equal(code(() => c.authorizePublish("lab", "users.created")), "FORBIDDEN");
  assert.equal(code(() => c.authorizePublish("prod", "orders.eu.created")), "FORBIDDEN");
  assert.equal(code(() => c.authorizePublish("", "orders.eu.created")), "FORBIDDEN");
  // The cached answer is the same answer.
  for (let i = 0; i < 3; i++) {
    assert.equal(c.canPublish("orders.secret.keys"), false);
    assert.equal(c.canPublish("orders.eu.created"), true);
  }
});

Deno.test("subscribe: inside allow passes, inside deny refused, overlapping deny filters", () => {
  const c = new PermissionChecker(alice);
  assert.deepEqual(c.authorizeSubscribe("lab", "orders.eu.*"), { filterDeliveries: false });
  assert.deepEqual(c.authorizeSubscribe("lab", "orders.>"), { filterDeliveries: true });
  assert.equal(code(() => c.authorizeSubscribe("lab", "orders.secret.*")), "FORBIDDEN");
  assert.equal(code(() => c.authorizeSubscribe("lab", ">")), "FORBIDDEN");
  assert.equal(code(() => c.authorizeSubscribe("other", "orders.eu.*")), "FORBIDDEN");
  assert.equal(c.canReceive("orders.eu.created"), true);
  assert.equal(c.canReceive("orders.secret.keys"), false);
});

Deno.test("sys.control.* needs controller or admin whatever the topic rules say", () => {
  const everything = { realities: ["*"], publish: { allow: [">"] } };
  const client = new PermissionChecker(principal({ ...everything, roles: ["client"] }));
  const controller = new PermissionChecker(principal({ ...everything, roles: ["controller"] }));
  const admin = new PermissionChecker(principal({ realities: [], roles: ["admin"] }));
  assert.equal(client.canPublish("sys.control.kick"), false);
  assert.equal(client.canPublish("sys.metrics"), true);
  assert.equal(controller.canPublish("sys.control.kick"), true);
  assert.equal(admin.canPublish("sys.control.kick"), true);
  assert.equal(admin.canUseReality("anything"), true);
  assert.equal(admin.hasRole("operator"), true);
  assert.equal(client.hasRole("operator"), false);
});

Deno.test("replies to the node's _inbox topics are allowed whatever the publish rules", () => {
  const c = new PermissionChecker(principal({ realities: ["lab"], publish: { allow: [] } }));
  assert.equal(c.canPublish("_inbox.ab12cd34.7"), true);
  assert.equal(c.canPublish("orders.x"), false);
});

Deno.test("omitted allow means everything; empty allow means nothing", () => {
  const open = new PermissionChecker(principal({ realities: ["*"], publish: { deny: ["x.>"] } }));
  assert.equal(open.canPublish("a.b"), true);
  assert.equal(open.canPublish("x.y"), false);
  const closed = new PermissionChecker(principal({ realities: ["*"], publish: { allow: [] } }));
  assert.equal(closed.canPublish("a.b"), false);
});

Deno.test("expired credentials are refused with UNAUTHORIZED", () => {
  const c = new PermissionChecker(
    principal({ realities: ["*"] }, Date.now() - 1),
  );
  // Once seen, expiry sticks: every later check fails, sampled clock or not.
  for (let i = 0; i < 3; i++) {
    assert.equal(code(() => c.authorizePublish("lab", "a.b")), "UNAUTHORIZED");
  }
  assert.equal(code(() => c.authorizeSubscribe("lab", "a.b")), "UNAUTHORIZED");
  // A subscribe always reads the clock.
  const d = new PermissionChecker(principal({ realities: ["*"] }, Date.now() - 1));
  assert.equal(code(() => d.authorizeSubscribe("lab", "a.b")), "UNAUTHORIZED");
});

Deno.test("parseGrants refuses malformed claims", () => {
  assert.throws(() => parseGrants({ realities: "lab" }), TypeError);
  assert.throws(() => parseGrants({ realities: [], roles: ["root"] }), TypeError);
  assert.throws(() => parseGrants({ realities: [], publish: { allow: ["a.>.b"] } }), TypeError);
  assert.throws(() => parseGrants(null), TypeError);
  // A list where the rules object belongs, or a misspelt key, must not read as "no rules"
  // (which allows every topic).
  assert.throws(() => parseGrants({ realities: [], publish: ["a.>"] }), /must be an object/);
  assert.throws(() => parseGrants({ realities: [], subscribe: ["a.>"] }), /must be an object/);
  assert.throws(() => parseGrants({ realities: [], publish: { alow: ["a.>"] } }), /unknown/);
});
