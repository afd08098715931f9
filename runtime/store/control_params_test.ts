import assert from "node:assert/strict";
import { BusError } from "../protocol/mod.ts";
import { ControlParams } from "../spine/mod.ts";
import { AuditLog } from "../telemetry/mod.ts";
import { openStore } from "./sqlite_log.ts";

const body = (params: unknown) => new TextEncoder().encode(JSON.stringify({ params }));

function storageFailed(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BusError);
    assert.equal(e.code, "STORAGE_FAILED");
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("parameter sets persist in the store and load effective before any new pulse", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-params-" });
  try {
    let store = openStore({ dataDir: dir });
    const audit = AuditLog.open({ path: `${dir}/audit.jsonl` });
    let control = new ControlParams({ audit, store });
    control.apply("a", 3, "t", body({ k_c: 0.7 }));
    control.apply("a", 4, "t", body({ mode: "x" }));
    control.apply("b", 1, "t", body({ z: [1, { y: 2 }] }));
    store.close();
    store = openStore({ dataDir: dir });
    control = new ControlParams({ audit, store });
    assert.deepEqual(control.at("a", 0).params, { k_c: 0.7, mode: "x" });
    assert.equal(control.current("a").version, 2);
    assert.deepEqual(control.current("b").params, { z: [1, { y: 2 }] });
    assert.equal(control.apply("a", 9, "t", body({ k_c: null })).version, 3);
    store.close();
    audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a change that cannot be persisted or audited is refused and changes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-params-" });
  try {
    const store = openStore({ dataDir: `${dir}/store` });
    const audit = AuditLog.open({ path: `${dir}/audit.jsonl` });
    const control = new ControlParams({ audit, store });
    control.apply("r", 1, "t", body({ a: 1 }));
    // The audit log's file is gone from under it: the change is refused, the store put back.
    audit.close();
    storageFailed(() => control.apply("r", 2, "t", body({ a: 2 })), /not audited/);
    assert.deepEqual(control.current("r").params, { a: 1 });
    const reopened = new ControlParams({ audit: AuditLog.open(), store });
    assert.deepEqual(reopened.current("r").params, { a: 1 }, "the stored set was put back");
    assert.equal(reopened.current("r").version, 1);
    // A closed store: refused before anything is audited.
    const audit2 = AuditLog.open();
    const late = new ControlParams({ audit: audit2, store });
    store.close();
    storageFailed(() => late.apply("r", 2, "t", body({ a: 2 })), /not saved/);
    assert.equal(audit2.size, 0);
    assert.equal(late.current("r").version, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
