// Docs example (docs/policies.md): deny payloads that are mostly capital letters.
import {
  allow,
  Context,
  deny,
  JsonKind,
  parseJsonString,
  Verdict,
} from "@arqon/casil";

let maxRatio: f64 = 0.5;

/** Optional: called once with the JSON config; return an error message or null. */
export function configure(config: string): string | null {
  const c = parseJsonString(config);
  if (c === null || c.kind != JsonKind.Object) return "config must be a JSON object";
  const r = c.get("max_ratio");
  if (r !== null) {
    if (r.kind != JsonKind.Number || r.num < 0 || r.num > 1) return "max_ratio must be 0..1";
    maxRatio = r.num;
  }
  return null;
}

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  if (ctx.contentType != "text/plain") return allow();
  let letters = 0;
  let upper = 0;
  for (let i = 0; i < payload.length; i++) {
    const c = payload[i];
    if (c >= 0x41 && c <= 0x5a) {
      letters++;
      upper++;
    } else if (c >= 0x61 && c <= 0x7a) letters++;
  }
  if (letters > 8 && <f64>upper / <f64>letters > maxRatio) {
    return deny("please do not shout (" + upper.toString() + " of " + letters.toString() + ")");
  }
  return allow();
}
