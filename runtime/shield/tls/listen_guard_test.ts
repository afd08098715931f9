import assert from "node:assert/strict";
import { checkListenPlan, isLoopback } from "./mod.ts";

Deno.test("isLoopback knows loopback addresses and nothing else", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"]) {
    assert.equal(isLoopback(h), true, h);
  }
  for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "example.com", "128.0.0.1"]) {
    assert.equal(isLoopback(h), false, h);
  }
});

Deno.test("beyond loopback the node needs TLS and auth, or --insecure with a loud warning", () => {
  const refused = checkListenPlan({ hostname: "0.0.0.0", tls: false, auth: true, insecure: false });
  assert.match(refused.error!, /without TLS/);
  const noAuth = checkListenPlan({ hostname: "0.0.0.0", tls: true, auth: false, insecure: false });
  assert.match(noAuth.error!, /without authentication/);
  assert.deepEqual(
    checkListenPlan({ hostname: "0.0.0.0", tls: true, auth: true, insecure: false }),
    {
      warnings: [],
    },
  );
  const forced = checkListenPlan({ hostname: "0.0.0.0", tls: false, auth: false, insecure: true });
  assert.equal(forced.error, undefined);
  assert.ok(forced.warnings.some((w) => /INSECURE.*TLS.*authentication/.test(w)));
});

Deno.test("an open node on loopback runs, and says it is open", () => {
  const open = checkListenPlan({ hostname: "127.0.0.1", tls: false, auth: false, insecure: false });
  assert.equal(open.error, undefined);
  assert.match(open.warnings[0], /OPEN/);
  const closed = checkListenPlan({
    hostname: "127.0.0.1",
    tls: false,
    auth: true,
    insecure: false,
  });
  assert.deepEqual(closed.warnings, []);
});
