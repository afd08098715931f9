// Bench operator (bench/operators_bench.ts, part a): a running sum of the numbers published on
// its inputs. Input: JSON `{"i": <index>, "v": <integer>}`; keeps the sum in durable state and
// emits `{"sum": <sum>, "i": <index>}` on `sums.total` (the index lets the bench match each
// output to its input for latency and loss checks). The bench's external service
// (`--role external`) computes exactly this with the TypeScript client.
import {
  JsonKind,
  outputText,
  parseJsonString,
  Pulse,
  stateGetString,
  stateSetString,
} from "@arqon/operator";

export function handle(pulse: Pulse): Pulse[] {
  const json = parseJsonString(pulse.text());
  if (json === null || json.kind != JsonKind.Object) return [];
  const v = json.get("v");
  const i = json.get("i");
  if (v === null || i === null || v.kind != JsonKind.Number || i.kind != JsonKind.Number) {
    return [];
  }
  const before = stateGetString("sum");
  const sum = (before === null ? 0 : I64.parseInt(before)) + <i64>v.num;
  stateSetString("sum", sum.toString());
  return [outputText("sums.total", '{"sum":' + sum.toString() + ',"i":' + (<i64>i.num).toString() + "}")];
}
