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

/** Pulses read from the log per page (output comparisons, searches). */
export const PAGE = 512;

/**
 * The journal's pages: up to this many pulses, and about {@linkcode JOURNAL_PAGE_BYTES}.
 * Large: a page that ends inside a stored chunk (about 256 KiB) makes the next one read and
 * checksum that chunk again, and with pages of 512 small pulses a replay spent about as much
 * of the node's time reading its log twice (count, then inputs) as running it.
 */
export const JOURNAL_PAGE = 4096;
/** Bytes of stored pulses a journal page aims at (large pulses make short pages). */
export const JOURNAL_PAGE_BYTES = 4 << 20;

/**
 * The stored pulses of `range`, page by page: each page sized from the previous one's mean
 * pulse size, so memory stays near {@linkcode JOURNAL_PAGE_BYTES} whatever the pulses weigh;
 * the event loop gets a turn between pages.
 */
async function* journalPages(log: DurableLog, range: LogRange): AsyncGenerator<StoredPulse[]> {
  let fromSeq = range.fromSeq;
  let limit = PAGE;
  while (true) {
    const page = log.readEncoded({
      reality: range.reality,
      fromSeq,
      ...(range.toSeq !== undefined ? { toSeq: range.toSeq } : {}),
      limit,
    });
    if (page.length === 0) return;
    yield page;
    if (page.length < limit) return;
    fromSeq = page[page.length - 1].sequence + 1;
    let bytes = 0;
    for (const p of page) bytes += p.bytes.length;
    const mean = Math.max(1, bytes / page.length);
    limit = Math.max(64, Math.min(JOURNAL_PAGE, Math.floor(JOURNAL_PAGE_BYTES / mean)));
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

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
  for await (const page of journalPages(log, range)) {
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
  for await (const page of journalPages(log, range)) {
    for (const stored of page) if (isStoredInput(stored)) n++;
  }
  return n;
}
