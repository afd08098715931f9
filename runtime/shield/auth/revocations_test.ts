import assert from "node:assert/strict";
import type { Principal } from "./grants.ts";
import { Revocations } from "./revocations.ts";

const token = (subject: string, tokenId: string, issuedAtMs: number): Principal => ({
  subject,
  method: "token",
  realities: [],
  publish: {},
  subscribe: {},
  roles: [],
  tokenId,
  issuedAtMs,
});

Deno.test("revocations: by token id, by subject up to a moment, expiring, bounded", () => {
  const now = Date.now();
  const r = new Revocations(3);
  r.add({ tokenId: "t1", atMs: now, untilMs: now + 60_000 });
  r.add({ subject: "bob", atMs: now, untilMs: now + 60_000 });
  assert.equal(r.reason(token("alice", "t1", now - 5)), "token revoked");
  assert.equal(r.reason(token("alice", "t2", now - 5)), undefined);
  assert.match(r.reason(token("bob", "t3", now - 5)) ?? "", /tokens of bob issued before/);
  // A token of bob issued after the revocation passes.
  assert.equal(r.reason(token("bob", "t4", now + 1000)), undefined);
  // Open sessions are never revoked (no token).
  assert.equal(r.reason({ ...token("bob", "t3", 0), method: "open" }), undefined);
  // Expired entries no longer count.
  r.add({ tokenId: "old", atMs: now - 10, untilMs: now - 1 });
  assert.equal(r.reason(token("x", "old", 0)), undefined);
  // Past the bound: expired entries go first, then the oldest; never more than the bound.
  r.add({ tokenId: "t5", atMs: now, untilMs: now + 60_000 });
  r.add({ tokenId: "t6", atMs: now, untilMs: now + 60_000 });
  assert.equal(r.size <= 3, true);
  assert.equal(r.reason(token("x", "t6", 0)), "token revoked");
  for (let i = 0; i < 1000; i++) r.add({ tokenId: `n${i}`, atMs: now, untilMs: now + 60_000 });
  assert.equal(r.size, 3);
  r.remove("jti:n999");
  assert.equal(r.reason(token("x", "n999", 0)), undefined);
  assert.equal(Revocations.keyOf({ subject: "bob", atMs: 0, untilMs: 0 }), "sub:bob");
});
