import assert from "node:assert/strict";
import { openStore } from "./mod.ts";

Deno.test("operator state is committed per pulse, scoped by reality and operator, and survives reopening", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-opstate-" });
  try {
    let log = openStore({ dataDir: dir });
    const v = (s: string) => new TextEncoder().encode(s);
    log.commitOperatorState("r1", "sum", [["a", v("1")], ["b", v("2")]]);
    log.commitOperatorState("r1", "sum", [["a", null], ["c", v("3")]]);
    log.commitOperatorState("r2", "sum", [["a", v("x")]]);
    log.close();
    log = openStore({ dataDir: dir });
    const text = (rows: [string, Uint8Array][]) =>
      rows.map(([k, val]) => [k, new TextDecoder().decode(val)]);
    assert.deepEqual(text(log.loadOperatorState("r1", "sum")), [["b", "2"], ["c", "3"]]);
    assert.deepEqual(text(log.loadOperatorState("r2", "sum")), [["a", "x"]]);
    log.dropOperatorState("r1", "sum");
    assert.deepEqual(log.loadOperatorState("r1", "sum"), []);
    log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
