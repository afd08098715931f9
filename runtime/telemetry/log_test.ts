import assert from "node:assert/strict";
import { Logger, type LogLevel } from "./log.ts";

function capture(format: "text" | "json", level: LogLevel) {
  const lines: [string, LogLevel][] = [];
  const log = new Logger({ logFormat: format, logLevel: level }, (l, lv) => lines.push([l, lv]));
  return { log, lines };
}

Deno.test("log: json lines are one object each, with ts, level, event and fields", () => {
  const { log, lines } = capture("json", "info");
  log.info("connect", { session: "s1", transport: "websocket" });
  log.error("error", { error: Object.assign(new Error("boom"), { code: "INTERNAL" }) });
  assert.equal(lines.length, 2);
  const first = JSON.parse(lines[0][0]);
  assert.equal(first.level, "info");
  assert.equal(first.event, "connect");
  assert.equal(first.session, "s1");
  assert.ok(!Number.isNaN(Date.parse(first.ts)));
  assert.ok(!lines[0][0].includes("\n"));
  assert.deepEqual(JSON.parse(lines[1][0]).error, { message: "boom", code: "INTERNAL" });
});

Deno.test("log: the level filters lower lines; text reads as before", () => {
  const { log, lines } = capture("text", "warn");
  log.debug("x");
  log.info("connect", { session: "s1" });
  log.warn("kick", { transport: "websocket", reason: "flood" });
  log.error("operator", { message: "operator a quarantined" });
  assert.deepEqual(lines.map(([l]) => l), [
    "arqon: kick transport=websocket reason=flood",
    "arqon: operator: operator a quarantined",
  ]);
  assert.equal(log.enabled("info"), false);
  assert.equal(log.enabled("error"), true);
});

Deno.test("log: a newline in a field cannot split a JSON line", () => {
  const { log, lines } = capture("json", "debug");
  log.info("connect", { remote: 'a\nb\r\n{"event":"forged"}' });
  assert.equal(lines.length, 1);
  assert.equal(lines[0][0].split("\n").length, 1);
  assert.equal(JSON.parse(lines[0][0]).event, "connect");
});
