/**
 * What the fuzz generators share: the seeded PRNG, the node under test, and the
 * bookkeeping of violations and error codes.
 * @module
 */
import type { NodeChild } from "../support.ts";
import { count, type ScenarioResult } from "./common.ts";

export const enc = new TextEncoder();
export const ANSWER_MS = 3000;
// How long a header case waits for an answer before calling the connection "waiting".
export const WAIT_MS = 150;

/** A code that says what went wrong (UNSPECIFIED and INTERNAL say nothing to the client). */
export function typed(code: string): boolean {
  const bare = code.replace(/^ERROR_CODE_/, "");
  return bare !== "" && bare !== "UNSPECIFIED" && bare !== "INTERNAL";
}

/** The PRNG, node and result of one fuzz run. */
export class FuzzKit {
  readonly random: () => number;
  readonly node: NodeChild;
  readonly #result: ScenarioResult;
  nonce = 1;
  /** Close frames from the node carrying a code RFC 6455 forbids on the wire. */
  invalidCloses = 0;

  constructor(node: NodeChild, random: () => number, result: ScenarioResult) {
    this.node = node;
    this.random = random;
    this.#result = result;
  }

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  violation(what: string): void {
    if (this.#result.violations.length < 20) this.#result.violations.push(what);
  }

  error(code: string, via: string): void {
    if (!typed(code)) this.violation(`untyped error ${code || "(none)"} via ${via}`);
    count(this.#result.errors, code.replace(/^ERROR_CODE_/, ""));
  }
}
