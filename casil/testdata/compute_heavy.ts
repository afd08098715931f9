// Benchmark policy: a compute-heavy loop (FNV-1a over the payload, many rounds) to measure
// the overhead of fuel metering.
import { Context, Verdict, allow, deny } from "../sdk/assembly/index";

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  let h: u32 = 2166136261;
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < payload.length; i++) {
      h = (h ^ <u32>payload[i]) * 16777619;
    }
  }
  return h == 0 ? deny("zero hash") : allow();
}
