import assert from "node:assert/strict";
import { openStore } from "./mod.ts";
import { stampedPulse } from "./testing.ts";

const v = (s: string) => new TextEncoder().encode(s);
const text = (rows: [string, Uint8Array][]) =>
  rows.map(([k, val]) => [k, new TextDecoder().decode(val)]);

Deno.test("operator state is committed per pulse, scoped by reality and operator, and survives reopening", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-opstate-" });
  try {
    let log = openStore({ dataDir: dir });
    void log.commitOperatorState("r1", "sum", [["a", v("1")], ["b", v("2")]]);
    void log.commitOperatorState("r1", "sum", [["a", null], ["c", v("3")]]);
    await log.commitOperatorState("r2", "sum", [["a", v("x")]]);
    log.close();
    log = openStore({ dataDir: dir });
    assert.deepEqual(text(log.loadOperatorState("r1", "sum")), [["b", "2"], ["c", "3"]]);
    assert.deepEqual(text(log.loadOperatorState("r2", "sum")), [["a", "x"]]);
    await log.replaceOperatorState("r2", "sum", [["z", v("9")]]);
    assert.deepEqual(text(log.loadOperatorState("r2", "sum")), [["z", "9"]]);
    await log.dropOperatorState("r1", "sum");
    assert.deepEqual(log.loadOperatorState("r1", "sum"), []);
    log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a hold keeps pulses and the state queued behind them in one commit", async () => {
  const log = openStore({ dataDir: null, sync: "always" });
  try {
    log.createReality("r", { retention: [{ pattern: "out.>", maxPulses: 100 }] });
    let commits = 0;
    log.observer = { commit: () => commits++ };
    const release = log.holdCommits();
    const appended = log.append([stampedPulse({ sequence: 1, reality: "r", topic: "out.a" })]);
    // Several turns pass (an asynchronous guard): the due commit waits for the release.
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(commits, 0);
    log.append([stampedPulse({ sequence: 2, reality: "r", topic: "out.b" })]);
    const state = log.commitOperatorState("r", "op", [["n", v("2")]]);
    release();
    release(); // twice is a no-op
    await Promise.all([appended, state]);
    assert.equal(commits, 1);
    assert.deepEqual(text(log.loadOperatorState("r", "op")), [["n", "2"]]);
    assert.equal(log.getReality("r")!.storedPulses, 2);
    // Without a hold, state alone (outputs not stored) still commits, in order.
    await log.commitOperatorState("r", "op", [["n", v("3")]]);
    await log.commitOperatorState("r", "op", [["n", null], ["m", v("4")]]);
    assert.deepEqual(text(log.loadOperatorState("r", "op")), [["m", "4"]]);
  } finally {
    log.close();
  }
});
