import assert from "node:assert/strict";
import { RateLimiter } from "../limits/mod.ts";
import { ClientRateTable } from "./client_rate_table.ts";

Deno.test("client rate table: one limiter per client, shared across lookups", () => {
  let now = 0;
  const limits = new RateLimiter({ perConnection: { pulsesPerSecond: 2 } }, undefined, () => now);
  const table = new ClientRateTable(() => limits.forConnection(), {
    maxClients: 10,
    clock: () => now,
  });
  // Two pulses of burst per client, whichever request (connection) they come on.
  assert.equal(table.limiter("ip:10.0.0.1").admit("lab", 1), undefined);
  assert.equal(table.limiter("ip:10.0.0.1").admit("lab", 1), undefined);
  assert.equal(table.limiter("ip:10.0.0.1").admit("lab", 1)?.code, "RATE_LIMITED");
  // Another client has its own buckets.
  assert.equal(table.limiter("id:alice").admit("lab", 1), undefined);
  assert.equal(table.size, 2);
  now += 1000;
  assert.equal(table.limiter("ip:10.0.0.1").admit("lab", 1), undefined);
});

Deno.test("client rate table: idle clients expire, the table never passes its cap", () => {
  let now = 0;
  const sizes: number[] = [];
  let evicted = 0;
  const table = new ClientRateTable(() => ({}), {
    maxClients: 3,
    idleMs: 100,
    clock: () => now,
    onSize: (n) => sizes.push(n),
    onEvict: () => evicted++,
  });
  const a = table.limiter("a");
  table.limiter("b");
  table.limiter("c");
  assert.equal(table.size, 3);
  // "a" is used again, so "b" is now the least recently used.
  now = 50;
  assert.equal(table.limiter("a"), a);
  table.limiter("d");
  assert.equal(table.size, 3);
  assert.equal(evicted, 1);
  assert.notEqual(table.limiter("a"), undefined);
  assert.equal(evicted, 1, "a was kept");
  // Everyone idle past 100 ms is forgotten at the next lookup: only the newcomer stays.
  now = 500;
  const e = table.limiter("e");
  assert.equal(table.size, 1);
  assert.equal(table.limiter("e"), e);
  assert.notEqual(table.limiter("a"), a, "a expired and starts afresh");
  assert.equal(evicted, 1, "expiry is not eviction");
  assert.deepEqual(sizes, [1, 2, 3, 1, 2]);
});

Deno.test("client rate table: 10 000 distinct clients stay within the cap", () => {
  let evicted = 0;
  const table = new ClientRateTable(() => ({}), { maxClients: 100, onEvict: () => evicted++ });
  for (let i = 0; i < 10_000; i++) table.limiter(`ip:10.0.${i >> 8}.${i & 255}`);
  assert.equal(table.size, 100);
  assert.equal(evicted, 9_900);
});
