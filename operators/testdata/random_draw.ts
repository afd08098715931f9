// Test operator: for each input emits `<seed>,<r1>,<r2>,<r3>` on `rand.out`: the input's
// entropy seed and the first three `randomU64()` draws, so a test can check the stream bit
// for bit against the client's `RandomU64` (docs/time.md).
import { outputText, Pulse, randomU64 } from "@arqon/operator";

export function handle(pulse: Pulse): Pulse[] {
  const a = randomU64();
  const b = randomU64();
  const c = randomU64();
  return [
    outputText(
      "rand.out",
      pulse.entropySeed.toString() + "," + a.toString() + "," + b.toString() + "," + c.toString(),
    ),
  ];
}
