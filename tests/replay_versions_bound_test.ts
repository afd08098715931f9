/**
 * The bound on kept operator versions (docs/time.md, "Limits": 64 per reality) driven past
 * on a node child: an operator replaced 200 times, each version carrying a 512 KiB
 * configuration in its manifest (100 MiB if every version were kept, 32 MiB at the bound).
 * Past the bound the node's resident memory stays flat while the replacements go on, inputs
 * published over HTTP between them are still handled, and a verify still answers (every
 * version runs the same component, so the digests match). Asked over fetch only.
 */
import assert from "node:assert/strict";
import { testOperatorComponent } from "../operators/build/mod.ts";
import { sleep } from "./support/node.ts";
import { startNodeChild } from "./adversarial/support.ts";
import { call, install } from "./support/operators.ts";

const counter = await testOperatorComponent("counter");

/** Kept versions per reality (operators/replay/service.ts). */
const BOUND = 64;
const PAD = 512 << 10;

Deno.test("replay versions: replacements past the 64 kept keep the node's memory flat", async () => {
  // With its inspector open: the RSS is read after a full collection (see
  // tests/support/child_inspector.ts). Without one, each replaced version's 512 KiB
  // configuration lies in V8's large-object space as garbage until the next mark-compact,
  // and the young generation grows when V8 sees fit: the RSS read that way grew 19 MiB on
  // an idle machine and 31-35 MiB under parallel load, of which nothing was kept.
  const child = await startNodeChild([], { inspect: true });
  const url = child.httpUrl;
  let published = 0;
  const publish = async () => {
    const res = await fetch(`${url}/v1/realities/v/topics/nums.in`, {
      method: "POST",
      body: String(++published),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
  };
  const replace = async (i: number) => {
    // Every version differs (its config), and init parses the whole configuration: the
    // fuel and memory limits make room for that.
    const r = await install(url, "sum", {
      reality: "v",
      inputs: ["nums.>"],
      config: { pad: String(i).padEnd(PAD, "x") },
      limits: { fuel: 2_000_000_000, memory_pages: 256 },
    }, counter);
    assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
  };
  try {
    assert.equal(
      (await call(url, "PUT", "/v1/realities/v", { retention: [{ pattern: ">" }] })).status,
      201,
    );
    // Past the bound first: what the kept versions hold is there before the baseline.
    let i = 0;
    for (; i < BOUND + 16; i++) {
      await replace(i);
      if (i % 8 === 0) await publish();
    }
    const before = await child.rssAfterCollection();
    let peak = before;
    for (; i < 200; i++) {
      await replace(i);
      if (i % 8 === 0) await publish();
      if (i % 10 === 0) peak = Math.max(peak, child.rss());
    }
    const after = await child.rssAfterCollection();
    // Every input reached the operator running at the end of its replacement chain.
    let sum = -1;
    for (let k = 0; k < 600 && sum !== published * (published + 1) / 2; k++) {
      const text = await (await fetch(`${url}/v1/realities/v/history?limit=1000`)).text();
      const outs = text.trim().split("\n").filter((l) => l).map((l) => JSON.parse(l))
        .filter((p: { producerId?: string }) => p.producerId === "operator:sum");
      if (outs.length === published) sum = JSON.parse(atob(outs.at(-1)!.payload)).sum;
      if (sum !== published * (published + 1) / 2) await sleep(50);
    }
    assert.equal(sum, published * (published + 1) / 2, `the outputs sum ${published} inputs`);
    const verify = (await call(url, "POST", "/v1/realities/v/verify")).body;
    assert.equal(verify.ok, true, JSON.stringify(verify.first_difference));
    assert.equal(verify.inputs, published);
    const grew = (after - before) / (1 << 20);
    console.log(
      `rss at the bound ${(before / (1 << 20)).toFixed(0)} MiB, after ${
        200 - BOUND - 16
      } more versions ${(after / (1 << 20)).toFixed(0)} MiB (peak ${
        (peak / (1 << 20)).toFixed(0)
      })`,
    );
    // 120 more versions of 512 KiB: 60 MiB if they were all kept.
    assert.ok(grew < 30, `rss grew ${grew.toFixed(0)} MiB past the bound`);
  } finally {
    await child.stop();
  }
});
