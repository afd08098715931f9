import assert from "node:assert/strict";
import { held } from "./groups.ts";

Deno.test("groups: a pulse given back holds later ones until it comes again, for 2 s at most", () => {
  const givenBack = new Map<number, number>();
  assert.equal(held(givenBack, 5, 0), false, "nothing given back: nothing held");
  givenBack.set(20, 1_000);
  givenBack.set(21, 1_001);
  assert.equal(held(givenBack, 20, 1_200), false, "the lowest one itself goes");
  assert.equal(held(givenBack, 21, 1_200), true, "21 waits for 20");
  assert.equal(held(givenBack, 35, 1_200), true, "a later new one waits too");
  assert.equal(held(givenBack, 19, 1_200), false, "an earlier one is not held");
  givenBack.delete(20); // 20 delivered
  assert.equal(held(givenBack, 21, 1_300), false, "then 21 goes");
  assert.equal(held(givenBack, 22, 1_300), true, "and 22 still waits for 21");
  assert.equal(held(givenBack, 22, 3_500), false, "21 not back within 2 s: forgotten");
  assert.equal(givenBack.size, 0, "forgotten entries are removed");
});
