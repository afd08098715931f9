import assert from "node:assert/strict";
import { encodePulse, pulseToJsonObject } from "../protocol/mod.ts";
import { storedPulseJson } from "./stored_json.ts";
import { FULL_PULSE as FULL } from "../protocol/testdata/pulses.ts";

Deno.test("stored JSON: stored JSON equals the protocol's canonical JSON mapping", () => {
  for (
    const pulse of [FULL, { topic: "a.b", sequence: 1 }, { ...FULL, payload: new Uint8Array() }]
  ) {
    const bytes = encodePulse(pulse);
    assert.deepEqual(storedPulseJson(bytes), pulseToJsonObject(pulse));
  }
});
