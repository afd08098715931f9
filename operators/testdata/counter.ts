// Test operator: a running sum of the numbers on its inputs, kept in durable state;
// emits `{"sum":N}` on `sums.total` (topic from config `{"out": "..."}`).
import {
  JsonKind,
  log,
  LogLevel,
  outputText,
  parseJsonString,
  Pulse,
  stateGetString,
  stateSetString,
} from "@arqon/operator";

let outTopic: string = "sums.total";

export function init(config: string): string | null {
  const c = parseJsonString(config);
  if (c === null || c.kind != JsonKind.Object) return "config must be a JSON object";
  const out = c.get("out");
  if (out !== null) {
    if (out.kind != JsonKind.String) return "out must be a topic";
    outTopic = out.str;
  }
  return null;
}

export function handle(pulse: Pulse): Pulse[] {
  const text = pulse.text();
  if (text == "trap") unreachable();
  if (text == "spin") {
    let x: i64 = 0;
    while (x >= 0) x++;
  }
  const before = stateGetString("sum");
  const sum = (before === null ? 0 : I64.parseInt(before)) + I64.parseInt(text);
  const err = stateSetString("sum", sum.toString());
  if (err !== null) log(LogLevel.Warn, err);
  return [outputText(outTopic, '{"sum":' + sum.toString() + "}")];
}
