// Hostile: traps while the module starts (top-level code runs in the start function).
import { Context, Verdict, allow } from "../sdk/assembly/index";

if (memory.size() > 0) unreachable();

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  return allow();
}
