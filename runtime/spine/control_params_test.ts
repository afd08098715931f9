import assert from "node:assert/strict";
import { BusError } from "../protocol/mod.ts";
import { AuditLog } from "../telemetry/mod.ts";
import { ControlParams } from "./control_params.ts";

const body = (params: unknown) => new TextEncoder().encode(JSON.stringify({ params }));

function refused(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BusError);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("changes merge into versions effective from their sequence", () => {
  const audit = AuditLog.open();
  const seen: number[] = [];
  const control = new ControlParams({ audit, now: () => 1000 });
  control.listen((_, set) => seen.push(set.version));
  assert.deepEqual(control.current("r"), { version: 0, sequence: 0, params: {}, updatedMs: 0 });
  control.apply("r", 5, "ctl", body({ k_c: 0.7, mode: "a" }));
  control.apply("r", 9, "ctl", body({ mode: null, gain: [1, 2] }));
  assert.deepEqual(control.current("r"), {
    version: 2,
    sequence: 9,
    params: { k_c: 0.7, gain: [1, 2] },
    updatedMs: 1000,
  });
  assert.equal(control.at("r", 4).version, 0);
  assert.equal(control.at("r", 5).version, 1);
  assert.equal(control.at("r", 8).version, 1);
  assert.equal(control.at("r", 9).version, 2);
  assert.equal(control.current("other").version, 0);
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(audit.list().map((e) => [e.action, e.actor, e.details]), [
    ["control.set", "ctl", {
      reality: "r",
      version: 1,
      sequence: 5,
      params: { k_c: 0.7, mode: "a" },
    }],
    ["control.set", "ctl", {
      reality: "r",
      version: 2,
      sequence: 9,
      params: { mode: null, gain: [1, 2] },
    }],
  ]);
});

Deno.test("the kept history is bounded: an input older than it sees the oldest kept set", () => {
  const control = new ControlParams({ audit: AuditLog.open(), history: 3 });
  for (let v = 1; v <= 5; v++) control.apply("r", v * 10, "t", body({ v }));
  assert.deepEqual(control.at("r", 50).params, { v: 5 });
  assert.deepEqual(control.at("r", 35).params, { v: 3 });
  // Versions 1 and 2 were dropped: sequence 15 (version 1's) gets the oldest kept, 3.
  assert.deepEqual(control.at("r", 15).params, { v: 3 });
  assert.equal(control.at("r", 1).version, 3);
});

Deno.test("the kept history is bounded in bytes too: large versions push out old ones", () => {
  // Each version is about 498 bytes of JSON: four times maxBytes (500) holds four of them.
  const control = new ControlParams({ audit: AuditLog.open(), maxBytes: 500 });
  for (let v = 1; v <= 6; v++) control.apply("r", v, "t", body({ v, pad: "x".repeat(480) }));
  assert.equal(control.at("r", 6).version, 6);
  assert.equal(control.at("r", 3).version, 3);
  assert.equal(control.at("r", 2).version, 3, "versions 1 and 2 were dropped");
});

Deno.test("malformed and oversized changes are typed errors", () => {
  const control = new ControlParams({ audit: AuditLog.open(), maxParams: 2, maxBytes: 100 });
  const raw = (text: string) => () => control.apply("r", 1, "t", new TextEncoder().encode(text));
  refused(raw("{"), "INVALID_ARGUMENT", /must be JSON/);
  refused(raw("null"), "INVALID_ARGUMENT", /JSON object/);
  refused(raw('{"params":[1]}'), "INVALID_ARGUMENT", /"params" must be a JSON object/);
  refused(raw('{"params":{"":1}}'), "INVALID_ARGUMENT", /parameter name/);
  refused(raw(`{"params":{"${"a".repeat(129)}":1}}`), "INVALID_ARGUMENT", /parameter name/);
  refused(raw('{"params":{"a":1,"b":2,"c":3}}'), "QUOTA_EXCEEDED", /would number 3/);
  refused(raw(`{"params":{"a":"${"x".repeat(100)}"}}`), "QUOTA_EXCEEDED", /would take \d+ bytes/);
  refused(raw(`{"params":{"a":"${"x".repeat(1000)}"}}`), "QUOTA_EXCEEDED", /payload of/);
  const nest = (d: number) => "[".repeat(d) + "]".repeat(d);
  refused(raw(`{"params":{"a":${nest(33)}}}`), "INVALID_ARGUMENT", /nests deeper than 32/);
  assert.equal(control.current("r").version, 0);
  control.apply("r", 1, "t", new TextEncoder().encode(`{"params":{"a":${nest(32)}}}`));
  control.apply("r", 1, "t", body({ "a.b-c_1": 1, "Z": true, a: null }));
  assert.equal(control.current("r").version, 2);
});

Deno.test("a replayed change is kept but not audited again; forget drops a reality's sets", () => {
  const audit = AuditLog.open();
  const saved: string[] = [];
  const deleted: string[] = [];
  const control = new ControlParams({
    audit,
    store: {
      loadControlParams: () => [],
      saveControlParams: (set) => void saved.push(set.reality),
      deleteControlParams: (reality) => void deleted.push(reality),
    },
  });
  control.apply("r", 1, "ctl", body({ k: 1 }));
  control.apply("scratch", 1, "ctl", body({ k: 1 }), true);
  assert.deepEqual(control.current("scratch").params, { k: 1 });
  assert.deepEqual(saved, ["r", "scratch"]);
  assert.deepEqual(audit.list().map((e) => e.details.reality), ["r"]);
  assert.equal(control.size, 2);
  control.forget("scratch");
  assert.equal(control.size, 1);
  assert.equal(control.current("scratch").version, 0);
  assert.equal(control.at("scratch", 5).version, 0);
  assert.deepEqual(deleted, ["scratch"]);
  assert.deepEqual(control.current("r").params, { k: 1 });
});
