/**
 * What the bus refuses of an operator's outputs before the pulse's state is committed: an
 * invalid topic or another reality fails the whole pulse (no output, no state change), as
 * a trap does, instead of surfacing later as a refused publish.
 * @module
 */
import { topicError } from "../runtime/protocol/mod.ts";
import { SandboxTrapError } from "../runtime/sandbox/mod.ts";
import type { OperatorPulse } from "./world.ts";

/** Throws `SandboxTrapError` (`bad_result`) naming the first output the bus would refuse. */
export function checkOutputs(outputs: readonly OperatorPulse[], reality: string): void {
  for (let i = 0; i < outputs.length; i++) {
    const out = outputs[i];
    const err = topicError(out.topic);
    if (err) {
      throw new SandboxTrapError(
        "bad_result",
        `output ${i} topic ${JSON.stringify(out.topic)}: ${err}`,
      );
    }
    if (out.reality !== "" && out.reality !== reality) {
      throw new SandboxTrapError(
        "bad_result",
        `output ${i} names reality ${
          JSON.stringify(out.reality)
        }: an operator publishes to its own`,
      );
    }
  }
}
