/**
 * Runs several bench scripts one after another, each in its own process (one part's heap,
 * workers and timers never colour the next), with their output inherited: the task of an
 * issue whose figures come from more than one bench.
 * @module
 */

/** One bench script of a combined task. */
export interface BenchPart {
  /** The heading printed before the part's output. */
  readonly title: string;
  /** The script, resolved against `bench/`. */
  readonly script: string;
  /** Its arguments. @default [] */
  readonly args?: readonly string[];
}

/**
 * Runs `parts` in order; the exit code is 1 when any part failed, else 0.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await runParts([{ title: "(a) lanes", script: "agents/lanes.ts" }]));
 * ```
 */
export async function runParts(parts: readonly BenchPart[]): Promise<number> {
  let failed = 0;
  for (const part of parts) {
    console.log(`\n== ${part.title}`);
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(part.script, import.meta.url).pathname, ...(part.args ?? [])],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) {
      console.log(`${part.title}: exited with ${code}`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}
