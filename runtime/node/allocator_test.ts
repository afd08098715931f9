import assert from "node:assert/strict";
import { tuneAllocator } from "./allocator.ts";

Deno.test("allocator: glibc's thresholds are set once at start, and setting them again works", () => {
  const first = tuneAllocator();
  assert.equal(first.tuned, true, first.problem);
  assert.equal(tuneAllocator().tuned, true);
});

Deno.test("allocator: an environment that chose its own thresholds is left alone", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { tuneAllocator } from "${new URL("./allocator.ts", import.meta.url)}";
      console.log(JSON.stringify(tuneAllocator()));`,
    ],
    env: { MALLOC_MMAP_THRESHOLD_: "1048576" },
    stdout: "piped",
  }).output();
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
    tuned: false,
    problem: "set by the environment",
  });
});
