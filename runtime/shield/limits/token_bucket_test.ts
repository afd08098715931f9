import assert from "node:assert/strict";
import { TokenBucket } from "./mod.ts";

Deno.test("a token bucket allows its burst, then its rate, and refills with time", () => {
  let now = 0;
  const bucket = new TokenBucket(10, 5, () => now);
  let taken = 0;
  while (bucket.tryTake()) taken++;
  assert.equal(taken, 5);
  assert.equal(bucket.waitMs(), 100);
  now += 100;
  assert.equal(bucket.tryTake(), true);
  assert.equal(bucket.tryTake(), false);
  now += 10_000;
  taken = 0;
  while (bucket.tryTake()) taken++;
  assert.equal(taken, 5, "refill stops at the burst");
});

Deno.test("takes of several tokens are all-or-nothing and refunds restore them", () => {
  const now = 0;
  const bytes = new TokenBucket(1000, 1000, () => now);
  assert.equal(bytes.tryTake(800), true);
  assert.equal(bytes.tryTake(300), false);
  assert.equal(bytes.tryTake(200), true);
  bytes.refund(200);
  assert.equal(bytes.tryTake(200), true);
  assert.equal(bytes.waitMs(500), 500);
});

Deno.test("rate 0 is unlimited", () => {
  const bucket = new TokenBucket(0);
  assert.equal(bucket.unlimited, true);
  for (let i = 0; i < 1000; i++) assert.equal(bucket.tryTake(1e9), true);
});
