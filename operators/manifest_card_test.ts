import assert from "node:assert/strict";
import { BusError } from "../runtime/protocol/mod.ts";
import { parseManifest } from "./manifest.ts";

const CARD = {
  capabilities: ["sum"],
  input_schema: { type: "integer" },
  output_schema: { type: "object", required: ["sum"] },
};

Deno.test("a manifest's card is checked and survives the store's JSON round trip", () => {
  const m = parseManifest({ inputs: ["a.>"], card: CARD });
  assert.deepEqual(m.card, CARD);
  // The host keeps manifests as JSON and parses them again at restart.
  assert.deepEqual(parseManifest(JSON.parse(JSON.stringify(m))).card, CARD);
  assert.equal(parseManifest({ inputs: ["a.>"] }).card, undefined);
});

Deno.test("a bad card refuses the manifest, naming the card's field", () => {
  for (
    const [card, pattern] of [
      [null, /manifest: card: must be a JSON object/],
      [{ capabilities: ["x"], output_schema: { type: "nope" } }, /manifest: card: output_schema/],
      [{ capabilities: [], realities: ["r"] }, /manifest: card: realities/],
      [{ capabilities: ["z".repeat(70_000)] }, /manifest: card: \d+ bytes exceed/],
    ] as const
  ) {
    assert.throws(
      () => parseManifest({ inputs: ["a.>"], card }),
      (e: unknown) =>
        e instanceof BusError && e.code === "INVALID_ARGUMENT" && pattern.test(e.message),
    );
  }
});
