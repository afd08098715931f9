/**
 * Subscription filters on spectral metadata (`Subscribe.spectral_filter`, the SSE query
 * parameter `spectral_filter`): a tiny expression language, parsed once when the
 * subscription opens and evaluated per matching delivery.
 *
 * ```
 * expr       := and ( "||" and )*
 * and        := term ( "&&" term )*
 * term       := "(" expr ")" | field op number
 * field      := "coherence" | "criticality"
 * op         := ">=" | "<=" | ">" | "<" | "==" | "!="
 * number     := JSON number, also with a leading "." or "+"-less exponent ("1e-3", ".5")
 * ```
 *
 * A pulse without spectral metadata never matches: a filter asks about a property the
 * pulse does not claim.
 *
 * @example
 * ```ts
 * import { compileSpectralFilter } from "./spectral_filter.ts";
 *
 * const f = compileSpectralFilter("criticality < 0.2 && coherence > 0.5");
 * f.test({ coherence: 0.9, criticality: 0.1 }); // true
 * f.test(null); // false
 * ```
 * @module
 */
import { BusError } from "./errors.ts";
import type { ISpectral } from "./types.ts";

/** Longest filter text accepted: a filter is a predicate, not a program. */
export const MAX_SPECTRAL_FILTER_BYTES = 256;

type Predicate = (s: ISpectral) => boolean;

/** A parsed filter. */
export interface SpectralFilter {
  /** The expression as given. */
  readonly source: string;
  /** Whether a pulse's spectral metadata satisfies it (false when there is none). */
  test(spectral: ISpectral | null | undefined): boolean;
}

const FIELDS: Record<string, (s: ISpectral) => number> = {
  coherence: (s) => s.coherence ?? 0,
  criticality: (s) => s.criticality ?? 0,
};

// Longest first, so `>=` is not read as `>` followed by `=`.
const OPS = [">=", "<=", "==", "!=", ">", "<"] as const;
type Op = typeof OPS[number];

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/;
const WORD = /^[A-Za-z_][A-Za-z0-9_.]*/;

function compare(op: Op, read: (s: ISpectral) => number, k: number): Predicate {
  switch (op) {
    case ">=":
      return (s) => read(s) >= k;
    case "<=":
      return (s) => read(s) <= k;
    case ">":
      return (s) => read(s) > k;
    case "<":
      return (s) => read(s) < k;
    case "==":
      return (s) => read(s) === k;
    case "!=":
      return (s) => read(s) !== k;
  }
}

class Parser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string): never {
    throw new BusError(
      "INVALID_ARGUMENT",
      `spectral_filter ${JSON.stringify(this.text)}: ${message} at character ${this.pos + 1}`,
    );
  }

  skip(): void {
    while (this.pos < this.text.length && " \t\r\n".includes(this.text[this.pos])) this.pos++;
  }

  eat(token: string): boolean {
    this.skip();
    if (!this.text.startsWith(token, this.pos)) return false;
    this.pos += token.length;
    return true;
  }

  expr(): Predicate {
    const parts = [this.and()];
    while (this.eat("||")) parts.push(this.and());
    if (parts.length === 1) return parts[0];
    return (s) => parts.some((p) => p(s));
  }

  and(): Predicate {
    const parts = [this.term()];
    while (this.eat("&&")) parts.push(this.term());
    if (parts.length === 1) return parts[0];
    return (s) => parts.every((p) => p(s));
  }

  term(): Predicate {
    if (this.eat("(")) {
      const inner = this.expr();
      if (!this.eat(")")) this.fail("expected )");
      return inner;
    }
    this.skip();
    const word = WORD.exec(this.text.slice(this.pos))?.[0];
    if (!word) this.fail("expected coherence, criticality or (");
    const read = FIELDS[word];
    if (!read) this.fail(`unknown field "${word}" (coherence or criticality)`);
    this.pos += word.length;
    this.skip();
    const op = OPS.find((o) => this.text.startsWith(o, this.pos));
    if (!op) this.fail("expected one of >= <= > < == !=");
    this.pos += op.length;
    this.skip();
    const num = NUMBER.exec(this.text.slice(this.pos))?.[0];
    if (!num) this.fail("expected a number");
    const k = Number(num);
    if (!Number.isFinite(k)) this.fail(`${num} is not a finite number`);
    this.pos += num.length;
    return compare(op, read, k);
  }
}

/**
 * Parses a filter expression. Throws `BusError` `INVALID_ARGUMENT` naming the character
 * at fault, or when the text is longer than {@linkcode MAX_SPECTRAL_FILTER_BYTES}.
 */
export function compileSpectralFilter(text: string): SpectralFilter {
  if (new TextEncoder().encode(text).length > MAX_SPECTRAL_FILTER_BYTES) {
    throw new BusError(
      "INVALID_ARGUMENT",
      `spectral_filter is longer than ${MAX_SPECTRAL_FILTER_BYTES} bytes`,
    );
  }
  const parser = new Parser(text);
  parser.skip();
  if (parser.pos === text.length) parser.fail("empty expression");
  const predicate = parser.expr();
  parser.skip();
  if (parser.pos !== text.length) parser.fail("unexpected text");
  return {
    source: text,
    test: (s) => s !== null && s !== undefined && predicate(s),
  };
}
