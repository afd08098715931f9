/**
 * Semantic trace (issue 16 item 6): every pulse carries `semtrace`, the chain of topics
 * and operators it passed through, oldest first. The node appends the publish topic at
 * each hop (an operator's outputs start from their input's chain plus `operator:<name>`),
 * so a reader of history or of a delivery sees the path a result took.
 * @module
 */
import type { IPulse } from "../protocol/mod.ts";

/** Most entries a pulse's `semtrace` keeps; older ones are dropped first. */
export const MAX_SEMTRACE_ENTRIES = 16;

/** Most bytes (UTF-16 code units, a bound on UTF-8 for ASCII topics) of all entries together. */
export const MAX_SEMTRACE_BYTES = 1024;

/**
 * Appends `topic` to `pulse.semtrace`. True when the chain was only appended to (the
 * producer's encoding stays valid and the node's stamp carries the new entry); false when
 * older entries had to be dropped to stay within the bounds (the pulse must be encoded
 * afresh). The common case, a pulse arriving with no chain, costs one small array.
 */
export function appendHop(pulse: IPulse, topic: string): boolean {
  const trace = pulse.semtrace;
  if (trace === undefined || trace === null || trace.length === 0) {
    pulse.semtrace = [topic];
    return true;
  }
  let bytes = topic.length;
  for (const entry of trace) bytes += entry.length;
  const next = [...trace, topic];
  if (next.length <= MAX_SEMTRACE_ENTRIES && bytes <= MAX_SEMTRACE_BYTES) {
    pulse.semtrace = next;
    return true;
  }
  while (next.length > 1 && (next.length > MAX_SEMTRACE_ENTRIES || bytes > MAX_SEMTRACE_BYTES)) {
    bytes -= next.shift()!.length;
  }
  pulse.semtrace = next;
  return false;
}
