import assert from "node:assert/strict";
import { BATCH_FUEL_BUDGET, BatchSizer, MAX_BATCH } from "./batch_size.ts";

Deno.test("a batch takes up to the cap until pulses are measured, and cheap pulses keep it", () => {
  const sizer = new BatchSizer();
  assert.equal(sizer.limit(MAX_BATCH), MAX_BATCH);
  sizer.observe(64 * 50_000, 64); // bench-sum: ~50k fuel a pulse
  assert.equal(sizer.limit(MAX_BATCH), MAX_BATCH);
  assert.equal(sizer.limit(256), 256, "never above the runner's own cap (a replay's)");
});

Deno.test("expensive pulses get batches of about the fuel budget, never fewer than one", () => {
  const sizer = new BatchSizer();
  sizer.observe(8 * 9_000_000, 8);
  assert.equal(sizer.limit(MAX_BATCH), Math.floor(BATCH_FUEL_BUDGET / 9_000_000));
  sizer.observe(BATCH_FUEL_BUDGET * 50, 1);
  assert.equal(sizer.limit(MAX_BATCH), 1);
  // Cheap again: the running mean comes back down within a few batches.
  for (let i = 0; i < 40; i++) sizer.observe(1024 * 50_000, 1024);
  assert.equal(sizer.limit(MAX_BATCH), MAX_BATCH);
});

Deno.test("an empty batch (a control step alone) changes nothing", () => {
  const sizer = new BatchSizer();
  sizer.observe(0, 0);
  assert.equal(sizer.limit(MAX_BATCH), MAX_BATCH);
});
