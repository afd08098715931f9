/**
 * Verifies from a snapshot (docs/time.md, "Snapshots") driven past the log's length on a
 * node child: a reality of 5,000 inputs (4,000 of 8 KiB that no operator takes, then 1,000
 * numbers a stateful operator sums), one full verify that snapshots every 1,000 inputs, then
 * verifies that each replay only the inputs published since. Each reads the log from the
 * snapshot on, not from its start: the pulses the store hands out per verify stay a small
 * part of the log, the node's resident memory stays flat, and every verify still matches.
 * Asked over fetch only.
 */
import assert from "node:assert/strict";
import { testOperatorComponent } from "../operators/build/mod.ts";
import { sleep } from "./support/node.ts";
import { startNodeChild } from "./adversarial/support.ts";
import { call, install } from "./support/operators.ts";

const counter = await testOperatorComponent("counter");

const PADS = 4000;
const PAD_BYTES = 8 << 10;
const NUMBERS = 1000;
const VERIFIES = 10;
const MORE = 10;

Deno.test("replay snapshots: verifies from a snapshot read the log from it, memory flat", async () => {
  const child = await startNodeChild(["--snapshot-every", "1000"], { inspect: true });
  const url = child.httpUrl;
  const post = async (topic: string, body: string) => {
    const res = await fetch(`${url}/v1/realities/s/topics/${topic}`, { method: "POST", body });
    const text = await res.text();
    assert.equal(res.status, 200, text);
  };
  let published = 0;
  const numbers = async (n: number) => {
    for (let i = 0; i < n; i++) await post("nums.in", String(++published));
    // Every number reached the operator before the verify compares its outputs.
    for (let k = 0; k < 1200; k++) {
      const got = (await call(url, "GET", "/v1/operators/total")).body;
      if (got.counters.pulsesIn >= published) return;
      await sleep(50);
    }
    throw new Error(`the operator did not take ${published} inputs`);
  };
  const pulsesRead = () => child.metric("arqon_store_history_pulses_total");
  const verify = async () => {
    const res = await call(url, "POST", "/v1/realities/s/verify");
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.ok, true, JSON.stringify(res.body.first_difference));
    return res.body;
  };
  try {
    assert.equal(
      (await call(url, "PUT", "/v1/realities/s", { retention: [{ pattern: ">" }] })).status,
      201,
    );
    const installed = await install(url, "total", { reality: "s", inputs: ["nums.>"] }, counter);
    assert.equal(installed.status, 201, JSON.stringify(installed.body));
    // The bulk of the log first (8 parallel posters), then the numbers.
    const pad = "p".repeat(PAD_BYTES);
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < PADS) {
        next++;
        await post("pad.x", pad);
      }
    }));
    await numbers(NUMBERS);
    const first = await verify();
    assert.equal(first.from_snapshot, null);
    assert.equal(first.inputs, PADS + NUMBERS);
    // The RSS after a collection, after each verify from the snapshot. The baseline is the
    // lowest of the first three: right after the full verify the RSS still held its replay
    // Workers' memory for a while (measured 228-296 MiB, then 204-216).
    const rss: number[] = [];
    const reads: number[] = [];
    for (let v = 1; v <= VERIFIES; v++) {
      await numbers(MORE);
      const read = await pulsesRead();
      const answer = await verify();
      reads.push(await pulsesRead() - read);
      // From the snapshot after the last of the first 5,000 inputs: only the numbers since.
      assert.ok(answer.from_snapshot >= PADS + NUMBERS, JSON.stringify(answer));
      assert.equal(answer.inputs, MORE * v);
      assert.equal(answer.replay_outputs, MORE * v);
      rss.push(await child.rssAfterCollection());
    }
    const before = Math.min(...rss.slice(0, 3));
    const after = rss[rss.length - 1];
    console.log(
      `rss after a collection, after each verify from the snapshot: ${
        rss.map((b) => (b / (1 << 20)).toFixed(0)).join(", ")
      } MiB; pulses read per verify ${reads.join(", ")} (the log holds ${
        PADS + NUMBERS + MORE * VERIFIES
      } inputs)`,
    );
    // Each verify reads the inputs and outputs since the snapshot, from the source log and
    // from the scratch reality, a few times over (the replay, a survey, then the outputs):
    // measured 122-194 pulses for 10 inputs, +120 for each 10 more. Reading the source log
    // from its start, as verifies did, is two passes over its 6,000 pulses and more
    // (measured 12,122 to 12,962, and the RSS after a collection grew 23 MiB over 8 verifies).
    for (const r of reads) assert.ok(r < 2000, `a verify from a snapshot read ${r} pulses`);
    const grew = (after - before) / (1 << 20);
    assert.ok(grew < 16, `rss grew ${grew.toFixed(0)} MiB over ${VERIFIES - 3} verifies`);
  } finally {
    await child.stop();
  }
});
