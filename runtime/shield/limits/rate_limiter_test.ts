import assert from "node:assert/strict";
import { RateLimiter, type RateRefusal } from "./mod.ts";

function run(
  limiter: ReturnType<RateLimiter["forConnection"]>,
  reality: string,
  n: number,
  bytes = 10,
): number {
  let admitted = 0;
  for (let i = 0; i < n; i++) if (!limiter.admit(reality, bytes)) admitted++;
  return admitted;
}

Deno.test("per-connection pulses/s limit refuses the excess with a typed refusal", () => {
  let now = 0;
  const refusals: [string, RateRefusal][] = [];
  const node = new RateLimiter(
    { perConnection: { pulsesPerSecond: 100 } },
    (r, x) => refusals.push([r, x]),
    () => now,
  );
  const a = node.forConnection();
  const b = node.forConnection();
  assert.equal(run(a, "lab", 150), 100);
  assert.equal(run(b, "lab", 150), 100, "connections have separate buckets");
  assert.equal(refusals.length, 100);
  assert.equal(refusals[0][0], "lab");
  assert.equal(refusals[0][1].code, "RATE_LIMITED");
  assert.equal(refusals[0][1].scope, "connection");
  assert.equal(refusals[0][1].unit, "pulses");
  assert.ok(refusals[0][1].retryAfterMs > 0);
  now += 500;
  assert.equal(run(a, "lab", 100), 50);
});

Deno.test("per-reality limits are shared by the reality's connections; overrides apply", () => {
  const now = 0;
  const node = new RateLimiter(
    {
      perReality: { pulsesPerSecond: 100 },
      realities: { vip: { pulsesPerSecond: 1000 } },
    },
    undefined,
    () => now,
  );
  const a = node.forConnection();
  const b = node.forConnection();
  assert.equal(run(a, "lab", 60) + run(b, "lab", 60), 100);
  assert.equal(run(a, "other", 100), 100, "another reality has its own bucket");
  assert.equal(run(b, "vip", 2000), 1000);
});

Deno.test("a refused pulse takes nothing from any bucket (bytes refusal refunds pulses)", () => {
  let now = 0;
  const node = new RateLimiter(
    {
      perConnection: { pulsesPerSecond: 10, bytesPerSecond: 1000 },
      perReality: { pulsesPerSecond: 10, bytesPerSecond: 1000 },
    },
    undefined,
    () => now,
  );
  const a = node.forConnection();
  const big = a.admit("lab", 5000);
  assert.equal(big?.unit, "bytes");
  assert.equal(big?.scope, "connection");
  // All 10 pulses are still available: the refused big pulse cost none of them.
  assert.equal(run(a, "lab", 20, 100), 10);
  now += 1000;
  // The reality's byte bucket refuses while the connection's has room.
  const other = node.forConnection();
  assert.equal(other.admit("lab", 900), undefined);
  const refusal = a.admit("lab", 200);
  assert.equal(refusal?.scope, "reality");
  assert.equal(refusal?.unit, "bytes");
  assert.equal(run(a, "lab", 1, 100), 1, "the refused pulse left the connection's tokens intact");
});
