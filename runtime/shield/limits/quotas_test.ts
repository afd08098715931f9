import assert from "node:assert/strict";
import { isQuotaRefusal, type QuotaRefusal, RealityQuotas, type Release } from "./mod.ts";

Deno.test("connection and subscription quotas count up, refuse at the limit, release once", () => {
  const refused: string[] = [];
  const quotas = new RealityQuotas({
    perReality: { maxConnections: 2, maxSubscriptions: 3 },
    realities: { big: { maxConnections: 10 } },
  }, (reality, r) => refused.push(`${reality}:${r.kind}`));
  const c1 = quotas.acquire("lab", "connections") as Release;
  const c2 = quotas.acquire("lab", "connections") as Release;
  const c3 = quotas.acquire("lab", "connections");
  assert.ok(isQuotaRefusal(c3));
  assert.equal((c3 as QuotaRefusal).code, "QUOTA_EXCEEDED");
  assert.match((c3 as QuotaRefusal).message, /lab.*connections quota \(2\)/);
  assert.equal(quotas.usage("lab", "connections"), 2);
  c1();
  c1();
  assert.equal(quotas.usage("lab", "connections"), 1, "double release counts once");
  assert.ok(!isQuotaRefusal(quotas.acquire("lab", "connections")));
  c2();
  for (let i = 0; i < 10; i++) assert.ok(!isQuotaRefusal(quotas.acquire("big", "connections")));
  assert.ok(isQuotaRefusal(quotas.acquire("big", "connections")));
  assert.equal(quotas.limit("big", "subscriptions"), 0, "an override replaces the defaults");
  for (let i = 0; i < 3; i++) assert.ok(!isQuotaRefusal(quotas.acquire("lab", "subscriptions")));
  assert.ok(isQuotaRefusal(quotas.acquire("lab", "subscriptions")));
  assert.deepEqual(refused, ["lab:connections", "big:connections", "lab:subscriptions"]);
});

Deno.test("stored bytes quota refuses a write that would cross it; setStoredBytes resyncs", () => {
  const quotas = new RealityQuotas({ perReality: { maxStoredBytes: 1000 } });
  assert.ok(!isQuotaRefusal(quotas.acquire("lab", "storedBytes", 600)));
  assert.ok(isQuotaRefusal(quotas.acquire("lab", "storedBytes", 500)));
  assert.ok(!isQuotaRefusal(quotas.acquire("lab", "storedBytes", 400)));
  quotas.setStoredBytes("lab", 100); // retention trimmed the log
  assert.ok(!isQuotaRefusal(quotas.acquire("lab", "storedBytes", 900)));
  assert.equal(quotas.usage("lab", "storedBytes"), 1000);
});
