/**
 * The Harmonics assembler on the command line.
 *
 *   deno task harmonics:asm prog.hasm               # writes prog.bin beside it
 *   deno task harmonics:asm prog.hasm -o out.bin
 *   deno task harmonics:asm prog.hasm --base64      # prints the base64 for a config's "program"
 *   deno task harmonics:asm --disasm prog.bin       # prints the text of a bytecode file
 *
 * Bad text prints `file:line: message` and exits 1; bad usage exits 2. Paths are relative to
 * where the task is run.
 * @module
 */
import { base64 } from "@scure/base";
import {
  assemble,
  disassemble,
  HarmonicsAsmError,
  HarmonicsProgramError,
} from "../operators/builtin/harmonics/mod.ts";
import { fromInvocationDir, helpRequested, printUsage } from "./task_cli.ts";

const USAGE = `usage: deno task harmonics:asm <prog.hasm> [-o <prog.bin>] [--base64]
       deno task harmonics:asm --disasm <prog.bin>

Assembles a Harmonics program (text) into the bytecode the harmonics operator runs.

  <prog.hasm>      the program text; writes <prog>.bin beside it
  -o <prog.bin>    where to write the bytecode instead
  --base64         print the bytecode as base64 (for a config's "program") instead of writing it
  --disasm <file>  print the text of a bytecode file

Paths are relative to the directory you run the task from. Exit code: 0 done, 1 bad program
text (printed as file:line: message), 2 bad usage. See docs/operators.md.`;

async function main(args: string[]): Promise<number> {
  if (helpRequested(args)) printUsage(USAGE);
  const rest = [...args];
  const flag = (name: string) => {
    const at = rest.indexOf(name);
    if (at >= 0) rest.splice(at, 1);
    return at >= 0;
  };
  const disasm = flag("--disasm");
  const b64 = flag("--base64");
  const o = rest.indexOf("-o");
  const out = o >= 0 ? rest.splice(o, 2)[1] : undefined;
  if (rest.length !== 1 || (o >= 0 && out === undefined) || (disasm && (out || b64))) {
    console.error(USAGE);
    return 2;
  }
  const shown = rest[0]; // messages name the file as the user typed it
  const input = fromInvocationDir(shown);
  try {
    if (disasm) {
      console.log(disassemble(await Deno.readFile(input)).trimEnd());
      return 0;
    }
    const bytes = assemble(await Deno.readTextFile(input));
    if (b64) {
      console.log(base64.encode(bytes));
      return 0;
    }
    const target = out ? fromInvocationDir(out) : input.replace(/\.hasm$/, "") + ".bin";
    await Deno.writeFile(target, bytes);
    console.log(`harmonics:asm ${shown} -> ${target} (${bytes.length} bytes)`);
    return 0;
  } catch (e) {
    if (e instanceof HarmonicsAsmError) {
      console.error(`${shown}:${e.line}: ${e.message.slice(`line ${e.line}: `.length)}`);
    } else if (e instanceof HarmonicsProgramError) console.error(`${shown}: ${e.message}`);
    else console.error(`${shown}: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
}

Deno.exit(await main(Deno.args));
