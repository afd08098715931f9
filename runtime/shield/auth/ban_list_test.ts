import assert from "node:assert/strict";
import { banKey, BanList } from "./ban_list.ts";

Deno.test("bans expire, and the list stays bounded", () => {
  const bans = new BanList(3);
  const now = Date.now();
  bans.ban("id:alice", now + 1000);
  assert.equal(bans.remainingMs("id:alice", now), 1000);
  assert.equal(bans.remainingMs("id:alice", now + 1000), 0);
  assert.equal(bans.remainingMs("id:bob", now), 0);
  assert.equal(bans.remainingMs(undefined, now), 0);
  for (const k of ["a", "b", "c", "d"]) bans.ban(k, Date.now() + 60_000);
  assert.equal(bans.size, 3);
  assert.equal(bans.remainingMs("a"), 0, "the oldest went first");
  assert.ok(bans.remainingMs("d") > 0);
});

Deno.test("clients are banned by subject, else by an address beyond loopback", () => {
  assert.equal(banKey("alice", "10.0.0.5"), "id:alice");
  assert.equal(banKey(undefined, "10.0.0.5"), "ip:10.0.0.5");
  assert.equal(banKey(undefined, "127.0.0.1"), undefined);
  assert.equal(banKey(undefined, "::1"), undefined);
  assert.equal(banKey(undefined, undefined), undefined);
  assert.equal(banKey(undefined, "2001:db8::1"), "ip:2001:db8::1");
  assert.equal(banKey(undefined, "arqon.0 (pid 42)"), undefined, "shared memory has no host");
  assert.equal(banKey(undefined, "?"), undefined);
});
