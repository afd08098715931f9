/**
 * Opens a store, appends fire-and-forget pulses (no retention rule matches), prints
 * `appended <n>` and waits to be killed: the crash half of the sequence-lease test.
 *
 *   deno run -A append_then_hang.ts <data-dir> <count>
 * @module
 */
import { openStore } from "../mod.ts";
import { stampedPulse } from "../testing.ts";

const [dir, countArg] = Deno.args;
const log = openStore({ dataDir: dir });
const count = Number(countArg);
const pulses = [];
for (let seq = 1; seq <= count; seq++) pulses.push(stampedPulse({ sequence: seq }));
await log.append(pulses);
console.log(`appended ${count}`);
await new Promise(() => {});
