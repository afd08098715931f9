/**
 * Verifies a hash-chained audit log and names the first broken entry.
 *
 *   deno task audit:verify [path]     # default: ./data/audit/audit.jsonl
 *
 * Exit code 0 when intact, 1 when broken, 2 when the file cannot be read. A path given is
 * relative to where the task is run; the default is the repository's, where
 * `deno task start` keeps its data.
 * @module
 */
import { verifyAuditFile } from "../runtime/telemetry/audit/mod.ts";
import { fromInvocationDir, helpRequested, printUsage, usageError } from "./task_cli.ts";

const USAGE = `usage: deno task audit:verify [<audit.jsonl>]

Verifies a node's hash-chained audit log and names the first broken entry.

  <audit.jsonl>   the log to check (default: data/audit/audit.jsonl in the repository,
                  where 'deno task start' keeps it; a node with --data-dir D keeps it in
                  D/audit/audit.jsonl)

Exit code: 0 intact, 1 broken, 2 unreadable file or bad usage. See docs/policies.md.`;

if (helpRequested()) printUsage(USAGE);
if (Deno.args.length > 1 || Deno.args[0]?.startsWith("-")) {
  usageError(USAGE, `audit:verify: unexpected ${Deno.args.at(-1)}`);
}
const path = Deno.args[0] ? fromInvocationDir(Deno.args[0]) : "./data/audit/audit.jsonl";
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
