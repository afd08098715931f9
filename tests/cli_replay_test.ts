/**
 * `arqon sub --from-seq` and `--from-time` end to end: pulses published over plain HTTP
 * (fetch, no SDK) into a reality with a retention rule, replayed by the CLI as a subprocess
 * from a sequence, from an epoch-ms time, from a relative time (-5m), and refused with exit
 * code 1 and a readable message for a time it cannot read.
 */
import assert from "node:assert/strict";
import { withNode } from "./support/node.ts";

const ENTRY = new URL("../scripts/arqon.ts", import.meta.url).pathname;

async function arqon(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ENTRY, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { ARQON_SERVER: "", ARQON_TOKEN: "", NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("cli: sub --from-seq and --from-time replay stored pulses in order; a bad time is usage", async () => {
  await withNode(async (node) => {
    const put = await fetch(`${node.url}/v1/realities/lab`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ retention: [{ pattern: "replay.>" }] }),
    });
    assert.equal(put.status, 201, await put.text());
    const publish = async (i: number) => {
      const r = await fetch(`${node.url}/v1/realities/lab/topics/replay.t`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ i }),
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      return JSON.parse(text).sequence as number;
    };
    const early: number[] = [];
    for (let i = 1; i <= 3; i++) early.push(await publish(i));
    // A pause, so a time between the two groups separates them on the HLC wall clock.
    await new Promise((r) => setTimeout(r, 50));
    const between = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 4; i <= 5; i++) await publish(i);
    const s = ["--server", node.wsUrl, "-r", "lab", "--json"];
    const items = (out: string) => out.trim().split("\n").map((l) => JSON.parse(l));

    const fromSeq = await arqon([
      "sub",
      "replay.>",
      "--from-seq",
      String(early[1]),
      "--count",
      "4",
      ...s,
    ]);
    assert.equal(fromSeq.code, 0, fromSeq.stderr);
    assert.deepEqual(items(fromSeq.stdout).map((p) => p.data.i), [2, 3, 4, 5]);

    const fromTime = await arqon([
      "sub",
      "replay.>",
      "--from-time",
      String(between),
      "--count",
      "2",
      ...s,
    ]);
    assert.equal(fromTime.code, 0, fromTime.stderr);
    assert.deepEqual(items(fromTime.stdout).map((p) => p.data.i), [4, 5]);

    const ago = await arqon(["sub", "replay.>", "--from-time", "-5m", "--count", "5", ...s]);
    assert.equal(ago.code, 0, ago.stderr);
    assert.deepEqual(items(ago.stdout).map((p) => p.data.i), [1, 2, 3, 4, 5]);

    const bad = await arqon(["sub", "replay.>", "--from-time", "yesterday-ish", ...s]);
    assert.equal(bad.code, 1, "a time it cannot read is a usage error");
    assert.match(bad.stderr, /--from-time: expected an ISO time, epoch ms or -5m/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, "a message, not a stack trace");
  }, { memory: true });
});
