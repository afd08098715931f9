// Test operator: echoes what it sees of its input pulse (every record field) as JSON on
// `echo.out`, with spectral metadata derived from the input's: coherence + 1, criticality
// * 2, eigenvalues reversed. Payload commands: `none` (output without spectral), `max`
// (64 eigenvalues), `many` (65: over the bound), `nan` (coherence NaN), `two` (two
// outputs, the second over the bound).
import { output, outputText, Pulse, Spectral } from "@arqon/operator";

function describe(p: Pulse): string {
  let h = "";
  for (let i = 0; i < p.headers.length; i++) {
    if (i > 0) h += ",";
    h += '["' + p.headers[i].name + '","' + p.headers[i].value + '"]';
  }
  const s = p.spectral;
  return '{"topic":"' + p.topic + '","reality":"' + p.reality + '","producer":"' + p.producer +
    '","content_type":"' + p.contentType + '","payload":"' + p.text() + '","headers":[' + h +
    '],"seed":"' + p.entropySeed.toString() + '","wall":"' + p.wallMs.toString() +
    '","logical":' + p.logical.toString() + ',"spectral":' + (s === null ? "false" : "true") +
    "}";
}

function values(n: i32): f64[] {
  const out = new Array<f64>(n);
  for (let i = 0; i < n; i++) out[i] = <f64>i * 0.5;
  return out;
}

export function handle(pulse: Pulse): Pulse[] {
  const text = pulse.text();
  const out = outputText("echo.out", describe(pulse));
  if (text == "none") return [out];
  if (text == "max") return [out.withSpectral(0.5, 0.25, values(64))];
  if (text == "many") return [out.withSpectral(0.5, 0.25, values(65))];
  if (text == "nan") return [out.withSpectral(NaN)];
  if (text == "two") {
    return [out.withSpectral(1), output("echo.out", new Uint8Array(1)).withSpectral(0, 0, values(65))];
  }
  const s = pulse.spectral;
  if (s === null) return [out.withSpectral(-1)];
  const e = s.eigenvalues;
  const r = new Array<f64>(e.length);
  for (let i = 0; i < e.length; i++) r[i] = e[e.length - 1 - i];
  out.spectral = new Spectral(s.coherence + 1, s.criticality * 2, r);
  return [out];
}
