import assert from "node:assert/strict";
import { concatBytes, encodePulse, pulseProducerStartsWith, stampSuffix } from "./mod.ts";

Deno.test("wire: pulseProducerStartsWith reads the last producer id, as protobuf does", () => {
  const output = encodePulse({
    topic: "a.b",
    producerId: "operator:sum",
    payload: Uint8Array.of(1),
  });
  assert.equal(pulseProducerStartsWith(output, "operator:"), true);
  const input = encodePulse({ topic: "a.b", producerId: "feeder", payload: Uint8Array.of(1) });
  assert.equal(pulseProducerStartsWith(input, "operator:"), false);
  // Shorter than the prefix, and none at all.
  assert.equal(pulseProducerStartsWith(encodePulse({ producerId: "oper" }), "operator:"), false);
  assert.equal(pulseProducerStartsWith(encodePulse({ topic: "a.b" }), "operator:"), false);
  // A producer that named itself an operator in its own bytes: the node's stamp wins.
  const claimed = encodePulse({ topic: "a.b", producerId: "operator:fake" });
  const stamped = concatBytes(
    claimed,
    stampSuffix("id", 3, "client-7", "r", { wallMs: 1, logical: 0 }),
  );
  assert.equal(pulseProducerStartsWith(stamped, "operator:"), false);
  const relabelled = concatBytes(
    input,
    stampSuffix("id", 4, "operator:sum", "r", { wallMs: 1, logical: 0 }),
  );
  assert.equal(pulseProducerStartsWith(relabelled, "operator:"), true);
});
