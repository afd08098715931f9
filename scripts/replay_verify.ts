/**
 * Asks a running node to verify a reality: replay its input journal through its operators
 * into a scratch reality and compare the SHA-256 digests of both output logs
 * (`POST /v1/realities/{r}/verify`, docs/time.md).
 *
 *   deno task replay:verify --reality lab [--url http://127.0.0.1:7420] [--token T]
 *
 * Exit code 0 when the replay is bit-identical, 1 when it differs (the first differing
 * output is printed), 2 on a bad invocation or an error from the node.
 * @module
 */
import { parseArgs } from "node:util";
import { helpRequested, printUsage, usageError } from "./task_cli.ts";

const USAGE = `usage: deno task replay:verify --reality <name> [--url <node>] [--token <token>]

Replays a reality's input journal through the operators it has, on a running node, and
compares the SHA-256 digests of the recorded and the replayed output logs.

  --reality <name>   the reality to verify (required)
  --url <node>       the node's HTTP address (default: http://127.0.0.1:7420)
  --token <token>    a bearer token, when the node requires one

Exit code: 0 identical, 1 different (the first differing output is printed), 2 bad usage
or an error from the node. See docs/time.md.`;

if (helpRequested()) printUsage(USAGE);
let values;
try {
  values = parseArgs({
    args: Deno.args,
    options: {
      reality: { type: "string" },
      url: { type: "string", default: "http://127.0.0.1:7420" },
      token: { type: "string" },
    },
  }).values;
} catch (e) {
  usageError(USAGE, `replay:verify: ${e instanceof Error ? e.message : e}`);
}
if (!values.reality) usageError(USAGE, "replay:verify: --reality is required");
const url = `${values.url!.replace(/\/$/, "")}/v1/realities/${
  encodeURIComponent(values.reality)
}/verify`;
let res: Response;
try {
  res = await fetch(url, {
    method: "POST",
    headers: values.token ? { authorization: `Bearer ${values.token}` } : {},
  });
} catch (e) {
  console.error(`replay:verify: cannot reach ${values.url}: ${e instanceof Error ? e.message : e}`);
  Deno.exit(2);
}
const body = await res.json().catch(() => null);
if (!res.ok || !body) {
  console.error(`replay:verify: ${res.status} ${JSON.stringify(body?.error ?? body)}`);
  Deno.exit(2);
}
console.log(JSON.stringify(body, null, 2));
console.log(
  body.ok
    ? `replay:verify: ${values.reality}: identical (${body.inputs} inputs, ${body.outputs} outputs, sha256 ${body.digest})`
    : `replay:verify: ${values.reality}: DIFFERENT at output ${body.first_difference?.index} (${body.first_difference?.producer})`,
);
Deno.exit(body.ok ? 0 : 1);
