/**
 * A publish inside a tracing span (`--otel-endpoint`): kept out of the untraced path,
 * which pays one check for it.
 * @module
 */
import type { IPulse } from "../protocol/mod.ts";
import type { PulseSpan, PulseTracer } from "../telemetry/mod.ts";
import type { StampedPulse } from "./stamped.ts";

/**
 * Runs `publish` inside a publish span for `input`, ended when the pulse is accepted or
 * marked failed (and rethrown) when it is refused.
 */
export function tracedPublish(
  tracer: PulseTracer,
  input: IPulse,
  publish: (span: PulseSpan) => StampedPulse | Promise<StampedPulse>,
): StampedPulse | Promise<StampedPulse> {
  const span = tracer.publish(input.traceContext, input.topic ?? "", input.realityId || "");
  const failed = (err: unknown) => {
    span.setStatus({ code: 2, message: (err as Error).message }).end();
    throw err;
  };
  try {
    const result = publish(span);
    if (result instanceof Promise) {
      return result.then((stamped) => {
        span.end();
        return stamped;
      }, failed);
    }
    span.end();
    return result;
  } catch (err) {
    return failed(err);
  }
}
