/**
 * What every `deno task` script shares on its command line: `--help` that prints the
 * script's own usage and exits 0, and paths relative to where the user ran the task.
 *
 * `deno task` runs its command in the directory of `deno.json`, not the caller's; it passes
 * the caller's directory in `INIT_CWD`. Paths a user types are resolved against it, so
 * `cd ~/my-policy && deno task --config ~/arqonbus/deno.json policy:build policy.ts`
 * builds `~/my-policy/policy.wasm`.
 *
 * @example
 * ```ts
 * import { fromInvocationDir, helpRequested, printUsage } from "./task_cli.ts";
 *
 * if (helpRequested(Deno.args)) printUsage("usage: deno task x <file>");
 * console.log(fromInvocationDir("a.txt")); // absolute, under the caller's directory
 * ```
 * @module
 */
import { isAbsolute, resolve } from "node:path";

/** The directory the user ran the task from (`INIT_CWD`, else the process's own). */
export function invocationDir(): string {
  return Deno.env.get("INIT_CWD") || Deno.cwd();
}

/** `path` made absolute against the caller's directory (absolute paths stay as they are). */
export function fromInvocationDir(path: string): string {
  return isAbsolute(path) ? path : resolve(invocationDir(), path);
}

/** Whether `args` ask for help (`--help` or `-h` anywhere). */
export function helpRequested(args: readonly string[] = Deno.args): boolean {
  return args.includes("--help") || args.includes("-h");
}

/** Prints `text` on stdout and exits 0: `--help` is an answer, not an error. */
export function printUsage(text: string): never {
  console.log(text.trimEnd());
  Deno.exit(0);
}

/**
 * The usage a script documents in its module header (the first `/** ... *\/` block): its
 * `deno task ...` lines under "Usage:", then the rest of the header as the description,
 * without the comment stars and the `@module` tag, so the header stays the one place the
 * usage is written.
 */
export function moduleUsage(source: string): string {
  const block = source.match(/\/\*\*([\s\S]*?)\*\//);
  if (!block) return "";
  const lines = block[1]
    .split("\n")
    .map((l) => l.replace(/^\s*\* ?/, ""))
    .filter((l) => !/^@module\b/.test(l.trim()) && !/^```/.test(l.trim()));
  // A usage line starts with `deno task`, and its continuation lines are indented deeper.
  const usage: string[] = [];
  const rest: string[] = [];
  let inUsage = false;
  for (const l of lines) {
    const start = /^\s*([A-Z_]+=\S+\s+)*deno task /.test(l);
    const cont: boolean = inUsage && /^\s{6,}\S/.test(l) && !start;
    inUsage = start || cont;
    (inUsage ? usage : rest).push(l);
  }
  const body = rest.join("\n").replace(/\n{3,}/g, "\n\n").trim();
  if (usage.length === 0) return body;
  return `Usage:\n${usage.map((l) => `  ${l.trim()}`).join("\n")}\n\n${body}`;
}

/** With `--help` in `args`: prints the module header of the script at `url` and exits 0. */
export function helpFromHeader(url: string, args: readonly string[] = Deno.args): void {
  if (!helpRequested(args)) return;
  printUsage(moduleUsage(Deno.readTextFileSync(new URL(url))));
}

/**
 * The arguments of `policy:build` / `operator:build` (`<source.ts>... [-o <out.wasm>]`)
 * with every path made absolute against the caller's directory. `--help` prints `usage`
 * and exits 0; an unknown option prints it on stderr and exits 2.
 */
export function guestBuildArgs(usage: string, args: readonly string[] = Deno.args): string[] {
  if (helpRequested(args)) printUsage(usage);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-o") {
      if (i + 1 >= args.length) usageError(usage, "-o needs a file");
      out.push("-o", fromInvocationDir(args[++i]));
    } else if (a.startsWith("-")) usageError(usage, `unknown option ${a}`);
    else out.push(fromInvocationDir(a));
  }
  return out;
}

/** Prints `problem` and `usage` on stderr and exits 2 (a usage error). */
export function usageError(usage: string, problem: string): never {
  console.error(`${problem}\n\n${usage.trimEnd()}`);
  Deno.exit(2);
}
