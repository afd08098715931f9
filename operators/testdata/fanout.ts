// Test operator: emits N outputs on `fan.out` for an input whose payload is the number N,
// each with `{"i":k}`; a payload "big:N" emits one output of N bytes.
import { output, outputText, Pulse } from "@arqon/operator";

export function handle(pulse: Pulse): Pulse[] {
  const text = pulse.text();
  const out = new Array<Pulse>(0);
  if (text.startsWith("big:")) {
    out.push(output("fan.out", new Uint8Array(I32.parseInt(text.slice(4)))));
    return out;
  }
  const n = I32.parseInt(text);
  for (let k = 0; k < n; k++) out.push(outputText("fan.out", '{"i":' + k.toString() + "}"));
  return out;
}
