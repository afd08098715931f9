import { Context, Verdict, allow } from "../sdk/assembly/index";

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  return allow();
}
