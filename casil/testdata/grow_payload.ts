// Test policy: a redaction that grows the payload, whatever its size, to 4 MiB (issue 11: a
// redacting policy turned 1 byte into 14 MiB, beyond the node's frame limit). Topics ending
// in `.small` are redacted to 16 bytes instead, which every limit allows.
import { Context, Verdict, redact } from "../sdk/assembly/index";

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  const size = ctx.topic.endsWith(".small") ? 16 : 4 * 1024 * 1024;
  const out = new Uint8Array(size);
  out.fill(0x78);
  return redact(out, "grown");
}
