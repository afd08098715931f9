// Bench operator (bench/operators_bench.ts, part b): fuel-hungry. Each pulse runs `iters`
// rounds of an integer mix (config `{"iters": N}`; the bench sizes N so that a pulse burns
// most of the fuel budget) and emits one small pulse on `burn.out` with the result, so the
// feeder can keep a bounded number of pulses in flight.
import { JsonKind, outputText, parseJsonString, Pulse } from "@arqon/operator";

let iters: i32 = 1000;

export function init(config: string): string | null {
  const c = parseJsonString(config);
  if (c === null || c.kind != JsonKind.Object) return "config must be a JSON object";
  const n = c.get("iters");
  if (n !== null) {
    if (n.kind != JsonKind.Number || n.num < 1) return "iters must be a positive number";
    iters = <i32>n.num;
  }
  return null;
}

export function handle(pulse: Pulse): Pulse[] {
  let x: u64 = <u64>pulse.payload.length + 0x9e3779b97f4a7c15;
  for (let k: i32 = 0; k < iters; k++) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccd;
    x ^= x >> 29;
  }
  return [outputText("burn.out", '{"x":' + (x & 0xffff).toString() + "}")];
}
