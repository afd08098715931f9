// Built-in policy: deny pulses whose payload is larger than a limit.
//
// Config (optional): {"max_bytes": 65536}
import { Context, Verdict, allow, deny, JsonKind, jsonObjectError, parseJsonString } from "../sdk/assembly/index";

let maxBytes: i32 = 65536;

export function configure(config: string): string | null {
  const bad = jsonObjectError(config);
  if (bad !== null) return "config " + bad;
  const c = parseJsonString(config)!;
  const m = c.get("max_bytes");
  if (m !== null) {
    if (m.kind != JsonKind.Number || m.num < 0 || m.num > 2147483647) {
      return "max_bytes must be a number between 0 and 2^31-1";
    }
    maxBytes = <i32>m.num;
  }
  return null;
}

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  if (payload.length > maxBytes) {
    return deny(
      "payload of " + payload.length.toString() + " bytes exceeds the limit of " + maxBytes.toString() + " bytes",
    );
  }
  return allow();
}
