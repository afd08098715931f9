// Hostile: on topic `hostile.recurse`, recurses without bound (payload byte 0 is the start so
// the compiler cannot fold the recursion away).
import { Context, Verdict, allow } from "../sdk/assembly/index";

function down(n: i32): i32 {
  if (n == -12345) return 0;
  return down(n + 1) + 1;
}

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  if (ctx.topic != "hostile.recurse") return allow();
  down(payload.length > 0 ? <i32>payload[0] : 0);
  return allow();
}
