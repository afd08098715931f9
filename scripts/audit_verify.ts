/**
 * Verifies a hash-chained audit log and names the first broken entry.
 *
 *   deno task audit:verify [path]     # default: ./data/audit/audit.jsonl
 *
 * Exit code 0 when intact, 1 when broken, 2 when the file cannot be read.
 * @module
 */
import { verifyAuditFile } from "../runtime/telemetry/audit/mod.ts";

const path = Deno.args[0] ?? "./data/audit/audit.jsonl";
let result;
try {
  result = await verifyAuditFile(path);
} catch (e) {
  console.error(`audit:verify: cannot read ${path}: ${e instanceof Error ? e.message : e}`);
  Deno.exit(2);
}
if (result.ok) {
  console.log(`audit:verify: ${path}: ok, ${result.entries} entries, chain intact`);
} else {
  const b = result.firstBroken!;
  console.log(
    `audit:verify: ${path}: BROKEN at line ${b.line}${
      b.seq !== undefined ? ` (entry seq ${b.seq})` : ""
    }: ${b.problem}`,
  );
  Deno.exit(1);
}
