import assert from "node:assert/strict";
import { compareHlc, HybridClock, Uuid7Generator, uuid7Time } from "./mod.ts";

Deno.test("hlc stays monotonic when the wall clock steps back", () => {
  let now = 1000;
  const clock = new HybridClock(() => now);
  const a = clock.tick();
  now = 900;
  const b = clock.tick();
  const c = clock.tick();
  now = 2000;
  const d = clock.tick();
  assert(compareHlc(a, b) < 0 && compareHlc(b, c) < 0 && compareHlc(c, d) < 0);
  assert.deepEqual(d, { wallMs: 2000, logical: 0 });
  clock.observe({ wallMs: 5000, logical: 3 });
  assert.deepEqual(clock.tick(), { wallMs: 5000, logical: 4 });
});

Deno.test("uuid7 ids are valid v7, carry the time and sort in issue order", () => {
  let now = 1_700_000_000_123;
  const gen = new Uuid7Generator(() => now);
  const ids: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    if (i % 3000 === 0) now++;
    ids.push(gen.next());
  }
  const re = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  for (const id of ids) assert(re.test(id), id);
  assert.deepEqual(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  assert(uuid7Time(ids[0]) === 1_700_000_000_124);
  assert(uuid7Time(ids.at(-1)!) >= now);
});
