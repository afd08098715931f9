// Hostile: on topic `hostile.bomb`, grows memory until the cap stops it, then writes past it.
import { Context, Verdict, allow } from "../sdk/assembly/index";

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  if (ctx.topic != "hostile.bomb") return allow();
  while (memory.grow(16) >= 0) {}
  // Past the cap: touch memory beyond the end.
  store<u8>(<usize>memory.size() << 16, 1);
  return allow();
}
