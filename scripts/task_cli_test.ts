import assert from "node:assert/strict";
import { fromInvocationDir, helpRequested, moduleUsage } from "./task_cli.ts";

Deno.test("moduleUsage: the header's deno task lines under Usage, the rest as description", () => {
  const source = `/**
 * \`deno task bench:x\`: what it measures.
 *
 *   deno task bench:x [--seconds 5]
 *                     [--rounds 2]
 *   N=3 deno task bench:x
 *
 * More words.
 * @module
 */
export {};`;
  assert.equal(
    moduleUsage(source),
    "Usage:\n  deno task bench:x [--seconds 5]\n  [--rounds 2]\n  N=3 deno task bench:x\n\n" +
      "`deno task bench:x`: what it measures.\n\nMore words.",
  );
  assert.equal(moduleUsage("no header"), "");
});

Deno.test("fromInvocationDir: relative to INIT_CWD (deno task's caller), absolute kept", () => {
  const saved = Deno.env.get("INIT_CWD");
  try {
    Deno.env.set("INIT_CWD", "/home/me/policies");
    assert.equal(fromInvocationDir("a/b.ts"), "/home/me/policies/a/b.ts");
    assert.equal(fromInvocationDir("../c.ts"), "/home/me/c.ts");
    assert.equal(fromInvocationDir("/abs/d.ts"), "/abs/d.ts");
    Deno.env.delete("INIT_CWD");
    assert.equal(fromInvocationDir("e.ts"), `${Deno.cwd()}/e.ts`);
  } finally {
    if (saved === undefined) Deno.env.delete("INIT_CWD");
    else Deno.env.set("INIT_CWD", saved);
  }
  assert.ok(helpRequested(["x", "--help"]) && helpRequested(["-h"]) && !helpRequested(["x"]));
});
