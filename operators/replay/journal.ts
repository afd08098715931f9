/**
 * The input journal of a reality: its logged pulses that were not produced by operators
 * (clients' publishes, control-parameter changes), in sequence order. Read from the
 * durable log page by page, so a long log never sits in memory; operator outputs are told
 * apart by their producer id on the wire, never decoded.
 * @module
 */
import { decodePulse, type IPulse, pulseProducerStartsWith } from "../../runtime/protocol/mod.ts";
import {
  type DurableLog,
  OPERATOR_PRODUCER_PREFIX,
  type StoredPulse,
} from "../../runtime/spine/mod.ts";

/** Pulses read from the log per page. */
export const PAGE = 512;

/** True when a logged pulse is an input of its reality (not an operator's output). */
export function isInput(pulse: IPulse): boolean {
  return !(pulse.producerId ?? "").startsWith(OPERATOR_PRODUCER_PREFIX);
}

/** True when a logged pulse, as stored, is an input (its producer read from the bytes). */
export function isStoredInput(stored: StoredPulse): boolean {
  return !pulseProducerStartsWith(stored.bytes, OPERATOR_PRODUCER_PREFIX);
}

/** A range of a reality's log (inclusive sequences). */
export interface LogRange {
  readonly reality: string;
  readonly fromSeq: number;
  readonly toSeq?: number;
}

/** The input pulses of `range`, decoded, page by page. */
export async function* inputPages(log: DurableLog, range: LogRange): AsyncGenerator<IPulse[]> {
  for await (const page of log.history(range, PAGE)) {
    const inputs: IPulse[] = [];
    for (const stored of page) {
      if (isStoredInput(stored)) inputs.push(decodePulse(stored.bytes));
    }
    if (inputs.length > 0) yield inputs;
  }
}

/** How many inputs `range` holds (one pass over the log, nothing decoded or kept). */
export async function countInputs(log: DurableLog, range: LogRange): Promise<number> {
  let n = 0;
  for await (const page of log.history(range, PAGE)) {
    for (const stored of page) if (isStoredInput(stored)) n++;
  }
  return n;
}
