import assert from "node:assert/strict";
import { parseMetrics, sumBy, total } from "./prom.ts";

const TEXT = `# HELP arqon_pulses_published_total Pulses accepted and sequenced.
# TYPE arqon_pulses_published_total counter
arqon_pulses_published_total{reality="lab"} 12
arqon_pulses_published_total{reality="default"} 3
# HELP arqon_policy_denials_total Pulses denied.
# TYPE arqon_policy_denials_total counter
arqon_policy_denials_total{policy="size",reason="denied"} 2
arqon_policy_denials_total{policy="size",reason="fuel"} 1
# TYPE arqon_publish_to_ack_seconds histogram
arqon_publish_to_ack_seconds_bucket{le="0.001",reality="lab"} 1
arqon_publish_to_ack_seconds_bucket{le="+Inf",reality="lab"} 1
arqon_publish_to_ack_seconds_sum{reality="lab"} 0.0001
arqon_publish_to_ack_seconds_count{reality="lab"} 1
# TYPE arqon_subscriptions gauge
arqon_subscriptions 4
`;

Deno.test("prom: families summed per label and in all; histograms left out", () => {
  const metrics = parseMetrics(TEXT);
  assert.deepEqual(
    [...sumBy(metrics, "arqon_pulses_published_total", "reality")],
    [["lab", 12], ["default", 3]],
  );
  assert.deepEqual([...sumBy(metrics, "arqon_policy_denials_total", "policy")], [["size", 3]]);
  assert.equal(total(metrics, "arqon_subscriptions"), 4);
  assert.equal(total(metrics, "arqon_absent_total"), 0);
  assert.equal(metrics.has("arqon_publish_to_ack_seconds"), false);
});
