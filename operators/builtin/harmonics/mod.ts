/**
 * The shipped operator `harmonics` (Psyne's Harmonics DSL): a vector bytecode over float32
 * payloads, its assembler and disassembler, the TypeScript reference interpreter, and the
 * build of the AssemblyScript operator. See docs/operators.md, section "harmonics".
 * @module
 */
export { assemble, disassemble, formatF32, HarmonicsAsmError } from "./asm.ts";
export {
  Act,
  checkTopics,
  decodeProgram,
  type HarmonicsLimits,
  HarmonicsProgramError,
  type Instr,
  LIMITS,
  Op,
  type Program,
} from "./bytecode.ts";
export { buildHarmonics, HARMONICS_SOURCE } from "./build.ts";
export { expF32, parseF32, sigmoidF32, tanhF32 } from "./f32math.ts";
export { type Emitted, HarmonicsRunError, run } from "./reference.ts";
