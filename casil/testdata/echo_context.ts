// Test policy: denies with a reason that echoes everything it received, so the host adapter's
// marshalling can be checked end to end; allows topics ending in `.ok`; redacts `.upper` by
// upper-casing ASCII letters; uses the deterministic host functions on `.host`.
import {
  Context,
  Verdict,
  allow,
  deny,
  redact,
  log,
  LogLevel,
  randomU64,
  logicalTime,
  bytesToString,
} from "../sdk/assembly/index";

let configured = "";

export function configure(config: string): string | null {
  if (config == "bad") return "config must not be bad";
  configured = config;
  return null;
}

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  if (ctx.topic.endsWith(".ok")) return allow();
  if (ctx.topic.endsWith(".upper")) {
    const out = new Uint8Array(payload.length);
    for (let i = 0; i < payload.length; i++) {
      const c = payload[i];
      out[i] = c >= 0x61 && c <= 0x7a ? c - 32 : c;
    }
    return redact(out, "upper-cased");
  }
  if (ctx.topic.endsWith(".host")) {
    log(LogLevel.Warn, "hello from " + ctx.producer);
    const t = logicalTime();
    return deny(randomU64().toString() + "," + randomU64().toString() + "," + t.wallMs.toString() + "," + t.logical.toString());
  }
  let headers = "";
  for (let i = 0; i < ctx.headers.length; i++) {
    headers += ctx.headers[i].name + "=" + ctx.headers[i].value + ";";
  }
  return deny(
    ctx.reality + "|" + ctx.topic + "|" + ctx.producer + "|" + headers + "|" + ctx.contentType +
      "|" + bytesToString(payload) + "|" + configured,
  );
}
