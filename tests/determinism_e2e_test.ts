/**
 * Deterministic outputs end to end (docs/time.md): a real node, a raw WebSocket client on
 * the JSON subprotocol (not our SDK) and an AssemblyScript operator that draws
 * `randomU64()`. Inputs published without a seed get the reality's derived one; the
 * operator's draws equal the client's `RandomU64` bit for bit; its output's id, time and
 * seed are the documented derivation from the input.
 */
import assert from "node:assert/strict";
import { testOperatorComponent } from "../operators/build/mod.ts";
import { RandomU64 } from "../runtime/client/mod.ts";
import { deriveOutput, pulseSeed, realitySeed } from "../runtime/time/mod.ts";
import { withNode } from "./support/node.ts";
import { client, delivered, install, publish } from "./support/operators.ts";

const component = await testOperatorComponent("random_draw");

Deno.test("seeds, random-u64 and operator outputs are derived, never drawn from the clock", async () => {
  await withNode(async (node) => {
    const put = await install(
      node.url,
      "rand",
      { reality: "default", inputs: ["rand.in"] },
      component,
    );
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const s = await client(node.wsUrl, "rand.>");
    for (let i = 0; i < 5; i++) publish(s, "rand.in", String(i));
    // A seed the producer gives is kept.
    publish(s, "rand.in", "own", { entropySeed: "123456789" });
    await s.until(() => delivered(s, "rand.out").length === 6, "6 outputs");
    const inputs = delivered(s, "rand.in");
    const outputs = delivered(s, "rand.out");
    assert.equal(inputs.length, 6);
    const seed = realitySeed("default");
    for (let i = 0; i < 6; i++) {
      const input = inputs[i];
      const want = i < 5 ? pulseSeed(seed, Number(input.sequence)) : 123456789;
      assert.equal(Number(input.entropySeed), want, `input ${i} seed`);
      const out = outputs.find((o) => {
        const drawn = atob(o.payload).split(",");
        return BigInt(drawn[0]) === BigInt(want);
      });
      assert.ok(out, `output of input ${i}`);
      const [, ...draws] = atob(out.payload).split(",").map(BigInt);
      const rng = new RandomU64(BigInt(want));
      assert.deepEqual(draws, [rng.next(), rng.next(), rng.next()], `draws of input ${i}`);
      const ts = input.timestamp as { wallMs: string; logical?: number };
      const derived = deriveOutput(
        {
          entropySeed: BigInt(want),
          wallMs: BigInt(ts.wallMs),
          logical: ts.logical ?? 0,
        },
        "rand",
        0,
      );
      assert.equal(out.id, derived.id);
      assert.equal(Number(out.entropySeed), derived.entropySeed);
      const ots = out.timestamp as { wallMs: string; logical?: number };
      assert.equal(Number(ots.wallMs), derived.timestamp.wallMs);
      assert.equal(ots.logical ?? 0, derived.timestamp.logical);
    }
    s.close();
  });
});
