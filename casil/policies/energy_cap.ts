// Built-in policy (PRD US-03): deny `nvm.job.submit` pulses whose JSON payload asks for more
// energy than allowed.
//
// Config (all optional): {"max_joules": 50, "topic": "nvm.job.submit", "field": "joules"}
// `topic` is a pattern (`*` one segment, final `>` the rest); `field` may be a dotted path.
// On a guarded topic a payload that is not a JSON object (or names a member twice), whose
// field is missing, or whose field is not a finite number, is denied: the cap cannot be
// checked, so the pulse does not pass (fail-closed). "Block any job requesting more than
// 50 J" must not be dodged by leaving the request out, or by naming it twice so that the
// policy and the consumer read different copies.
import {
  Context,
  Verdict,
  allow,
  deny,
  JsonKind,
  JsonParser,
  JsonValue,
  jsonObjectError,
  parseJsonString,
  topicMatches,
} from "../sdk/assembly/index";

let maxJoules: f64 = 50;
let topic = "nvm.job.submit";
let path: string[] = ["joules"];

export function configure(config: string): string | null {
  const bad = jsonObjectError(config);
  if (bad !== null) return "config " + bad;
  const c = parseJsonString(config)!;
  const m = c.get("max_joules");
  if (m !== null) {
    if (m.kind != JsonKind.Number || m.num < 0) return "max_joules must be a non-negative number";
    maxJoules = m.num;
  }
  const t = c.get("topic");
  if (t !== null) {
    if (t.kind != JsonKind.String || t.str.length == 0) return "topic must be a non-empty string";
    topic = t.str;
  }
  const f = c.get("field");
  if (f !== null) {
    if (f.kind != JsonKind.String || f.str.length == 0) return "field must be a non-empty string";
    path = f.str.split(".");
  }
  return null;
}

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  if (!topicMatches(topic, ctx.topic)) return allow();
  const parser = new JsonParser(payload);
  const doc = parser.parse();
  if (doc === null) {
    const why = parser.error;
    return deny("energy cap: payload is not valid JSON (" + (why === null ? "invalid" : why) + ")");
  }
  if (doc.kind != JsonKind.Object) return deny("energy cap: payload is not a JSON object");
  let v: JsonValue | null = doc;
  for (let i = 0; i < path.length && v !== null; i++) {
    v = v.kind == JsonKind.Object ? v.get(path[i]) : null;
  }
  if (v === null) return deny("energy cap: " + path.join(".") + " is missing");
  if (v.kind != JsonKind.Number || !isFinite(v.num)) {
    return deny("energy cap: " + path.join(".") + " is not a number");
  }
  if (v.num > maxJoules) {
    return deny(
      "energy cap: requested " + v.num.toString() + " J exceeds the limit of " + maxJoules.toString() + " J",
    );
  }
  return allow();
}
