// Hostile: never returns on topic `hostile.loop` (other topics pass, so tests can check that
// the instance is rebuilt after the failure).
import { Context, Verdict, allow } from "../sdk/assembly/index";

let sink: i32 = 0;

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  if (ctx.topic != "hostile.loop") return allow();
  while (true) {
    sink++;
    if (sink == -1) break;
  }
  return allow();
}
