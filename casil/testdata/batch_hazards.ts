// Test policy that is called in batches (it imports no per-pulse host function) and fails
// on some pulses only, chosen by the payload's first word: `LOOP` never returns, `TRAP`
// reaches `unreachable`, `BOMB` grows memory until the cap stops it and writes past it,
// `BURN <n>` spins n rounds then allows, `UPPER <text>` redacts to upper case, `DENY`
// denies; anything else is allowed.
import { Context, Verdict, allow, deny, redact } from "../sdk/assembly/index";

let sink: i32 = 0;

function startsWith(p: Uint8Array, word: string): bool {
  if (p.length < word.length) return false;
  for (let i = 0; i < word.length; i++) if (<i32>p[i] != word.charCodeAt(i)) return false;
  return true;
}

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  if (startsWith(payload, "LOOP")) {
    while (true) {
      sink++;
      if (sink == -1) break;
    }
  }
  if (startsWith(payload, "TRAP")) unreachable();
  if (startsWith(payload, "BOMB")) {
    while (memory.grow(16) >= 0) {}
    store<u8>(<usize>memory.size() << 16, 1);
  }
  if (startsWith(payload, "BURN ")) {
    let n = 0;
    for (let i = 5; i < payload.length; i++) n = n * 10 + (<i32>payload[i] - 0x30);
    for (let i = 0; i < n; i++) sink = sink * 31 + i;
    return allow();
  }
  if (startsWith(payload, "DENY")) return deny("denied " + ctx.topic);
  if (startsWith(payload, "UPPER")) {
    const out = new Uint8Array(payload.length);
    for (let i = 0; i < payload.length; i++) {
      const c = payload[i];
      out[i] = c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
    }
    return redact(out, "upper");
  }
  return allow();
}
