// Built-in policy: redacts secrets and personal data from payloads: API keys (OpenAI/Stripe
// `sk-`/`sk_live_`/`sk_test_`, AWS `AKIA…`, GitHub `ghp_`/`gho_`/`ghs_`/`ghu_`/`github_pat_`,
// Slack `xox?-`, Google `AIza…`), e-mail addresses and payment card numbers (13–19 digits,
// optionally grouped by spaces or dashes, Luhn-valid). Each is replaced by `[api-key]`,
// `[email]` or `[card]`; a payload without any passes unchanged (no copy).
//
// Config (optional): {"emails": true, "cards": true, "keys": true}
import { Context, Verdict, allow, redact, JsonKind, jsonObjectError, parseJsonString } from "../sdk/assembly/index";

let doEmails = true;
let doCards = true;
let doKeys = true;

export function configure(config: string): string | null {
  const bad = jsonObjectError(config);
  if (bad !== null) return "config " + bad;
  const c = parseJsonString(config)!;
  const e = c.get("emails");
  if (e !== null) doEmails = e.kind == JsonKind.Bool && e.bool;
  const k = c.get("cards");
  if (k !== null) doCards = k.kind == JsonKind.Bool && k.bool;
  const s = c.get("keys");
  if (s !== null) doKeys = s.kind == JsonKind.Bool && s.bool;
  return null;
}

// @ts-ignore: decorator
@inline function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

// @ts-ignore: decorator
@inline function isAlnum(c: u8): bool {
  return isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

// @ts-ignore: decorator
@inline function isKeyChar(c: u8): bool {
  return isAlnum(c) || c == 0x5f || c == 0x2d;
}

// @ts-ignore: decorator
@inline function isLocalChar(c: u8): bool {
  return isAlnum(c) || c == 0x2e || c == 0x5f || c == 0x25 || c == 0x2b || c == 0x2d;
}

// @ts-ignore: decorator
@inline function isDomainChar(c: u8): bool {
  return isAlnum(c) || c == 0x2e || c == 0x2d;
}

/** Whether (c, d) begins a key prefix: sk gh AK AI xo. */
// @ts-ignore: decorator
@inline function isKeyPair(c: u8, d: u8): bool {
  return (c == 0x73 && d == 0x6b) || (c == 0x67 && d == 0x68) ||
    (c == 0x41 && (d == 0x4b || d == 0x49)) || (c == 0x78 && d == 0x6f);
}

function startsWith(p: Uint8Array, at: i32, prefix: string): bool {
  const n = prefix.length;
  if (at + n > p.length) return false;
  for (let i = 0; i < n; i++) {
    if (<i32>p[at + i] != prefix.charCodeAt(i)) return false;
  }
  return true;
}

function runOf(p: Uint8Array, at: i32): i32 {
  let e = at;
  while (e < p.length && isKeyChar(p[e])) e++;
  return e - at;
}

const KEY_PREFIXES: string[] = [
  "sk_live_", "sk_test_", "sk-", "ghp_", "gho_", "ghs_", "ghu_", "github_pat_", "AKIA", "AIza",
  "xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-",
];
const KEY_MIN: i32[] = [16, 16, 20, 30, 30, 30, 30, 30, 16, 30, 10, 10, 10, 10, 10];

/** End of an API key starting at `at`, or -1. */
function keyAt(p: Uint8Array, at: i32): i32 {
  if (at + 1 >= p.length) return -1;
  // Most words are ruled out by their first two bytes: sk, gh, AK, AI, xo.
  const c = unchecked(p[at]);
  const d = unchecked(p[at + 1]);
  if (
    !((c == 0x73 && d == 0x6b) || (c == 0x67 && d == 0x68) || (c == 0x41 && (d == 0x4b || d == 0x49)) ||
      (c == 0x78 && d == 0x6f))
  ) return -1;
  for (let k = 0; k < KEY_PREFIXES.length; k++) {
    const prefix = KEY_PREFIXES[k];
    if (!startsWith(p, at, prefix)) continue;
    const body = at + prefix.length;
    const n = runOf(p, body);
    if (n >= KEY_MIN[k]) return body + n;
  }
  return -1;
}

/** End of a Luhn-valid card number starting at `at`, or -1. */
function cardAt(p: Uint8Array, at: i32): i32 {
  let digits = 0;
  let e = at;
  let lastDigitEnd = at;
  while (e < p.length && digits < 20) {
    const c = p[e];
    if (isDigit(c)) {
      digits++;
      e++;
      lastDigitEnd = e;
    } else if ((c == 0x20 || c == 0x2d) && e + 1 < p.length && isDigit(p[e + 1]) && e > at) {
      e++;
    } else break;
  }
  if (digits < 13 || digits > 19) return -1;
  if (lastDigitEnd < p.length && isAlnum(p[lastDigitEnd])) return -1;
  // Luhn over the digits, right to left.
  let sum = 0;
  let dbl = false;
  for (let i = lastDigitEnd - 1; i >= at; i--) {
    const c = p[i];
    if (!isDigit(c)) continue;
    let d = <i32>(c - 0x30);
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0 ? lastDigitEnd : -1;
}

/** (start << 32 | end) of the e-mail address around the `@` at `at`, or -1. */
function emailAround(p: Uint8Array, at: i32, floor: i32): i64 {
  let s = at;
  while (s > floor && isLocalChar(p[s - 1])) s--;
  if (s == at) return -1;
  let e = at + 1;
  while (e < p.length && isDomainChar(p[e])) e++;
  while (e > at + 1 && (p[e - 1] == 0x2e || p[e - 1] == 0x2d)) e--; // trailing punctuation
  let lastDot = -1;
  for (let k = at + 1; k < e; k++) if (p[k] == 0x2e) lastDot = k;
  if (lastDot <= at + 1 || e - lastDot - 1 < 2) return -1;
  return (<i64>s << 32) | <i64>e;
}

const TOKEN_KEY = "[api-key]";
const TOKEN_EMAIL = "[email]";
const TOKEN_CARD = "[card]";

// Byte classes for the scan: one table lookup per byte decides whether anything can start.
const ALNUM: u8 = 1;
const DIGIT: u8 = 2;
const KEY_START: u8 = 4;
const CLASS = new StaticArray<u8>(256);
for (let c = 0; c < 256; c++) {
  let k: u8 = 0;
  if (isAlnum(<u8>c)) k |= ALNUM;
  if (isDigit(<u8>c)) k |= DIGIT;
  if (c == 0x73 || c == 0x67 || c == 0x41 || c == 0x78) k |= KEY_START; // s g A x
  CLASS[c] = k;
}

const V_0 = i8x16.splat(0x30);
const V_10 = i8x16.splat(10);
const V_A = i8x16.splat(0x41);
const V_Z = i8x16.splat(0x5a);
const V_a = i8x16.splat(0x61);
const V_z = i8x16.splat(0x7a);
const V_s = i8x16.splat(0x73);
const V_g = i8x16.splat(0x67);
const V_x = i8x16.splat(0x78);
const V_AT = i8x16.splat(0x40);

// @ts-ignore: decorator
@inline function isDigitV(v: v128): v128 {
  // One unsigned compare: bytes below '0' wrap around to large values.
  return i8x16.lt_u(i8x16.sub(v, V_0), V_10);
}

/** Lanes where something may start: a digit, `@`, or a letter beginning a key (s g A x). */
// @ts-ignore: decorator
@inline function interestingV(v: v128, digit: v128): v128 {
  return v128.or(
    v128.or(digit, i8x16.eq(v, V_AT)),
    v128.or(v128.or(i8x16.eq(v, V_s), i8x16.eq(v, V_g)), v128.or(i8x16.eq(v, V_A), i8x16.eq(v, V_x))),
  );
}

// @ts-ignore: decorator
@inline function interesting(at: usize): v128 {
  const v = v128.load(at);
  return interestingV(v, isDigitV(v));
}

// The match `matchAt` found.
let mStart: i32 = 0;
let mEnd: i32 = 0;
let mToken = "";

/**
 * Tries the detectors at `i`: keys and cards where a word starts, e-mails at an `@`.
 * True with mStart/mEnd/mToken set on a match.
 */
function matchAt(p: Uint8Array, i: i32, c: u8, wordStart: bool, floor: i32): bool {
  const cls = unchecked(CLASS[c]);
  if (wordStart) {
    if (doKeys && (cls & KEY_START) != 0) {
      const e = keyAt(p, i);
      if (e > 0) {
        mStart = i;
        mEnd = e;
        mToken = TOKEN_KEY;
        return true;
      }
    }
    if (doCards && (cls & DIGIT) != 0) {
      const e = cardAt(p, i);
      if (e > 0) {
        mStart = i;
        mEnd = e;
        mToken = TOKEN_CARD;
        return true;
      }
    }
  }
  if (doEmails && c == 0x40) {
    const r = emailAround(p, i, floor);
    if (r >= 0) {
      mStart = <i32>(r >> 32);
      mEnd = <i32>(r & 0xffffffff);
      mToken = TOKEN_EMAIL;
      return true;
    }
  }
  return false;
}

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  const p = payload;
  const n = p.length;
  const base = p.dataStart;
  // Matches as (start, end, token) triples, in order, not overlapping.
  const starts = new Array<i32>(0);
  const ends = new Array<i32>(0);
  const tokens = new Array<string>(0);
  let floor = 0; // end of the last match
  let prevAlnum = false;
  let i = 0;
  while (i + 17 <= n) {
    // 16 positions at a time (reading 17 bytes). Something can start only where a word
    // starts with two digits (card numbers start with a group of four) or with a letter that
    // begins a key prefix (s g A x), or at an `@`; most chunks have no such position.
    const v = v128.load(base + <usize>i);
    // Most chunks hold no digit, no s g A x and no `@`: nothing can start in them. Ruling
    // that out first costs a third of the full classification below.
    const digit = isDigitV(v);
    if (!v128.any_true(interestingV(v, digit))) {
      i += 16;
      // A quiet chunk is often followed by more (binary or padded payloads): skip 64 bytes
      // at a time while none of them is interesting (one fuel check per 64 bytes).
      while (
        i + 65 <= n &&
        !v128.any_true(
          v128.or(
            v128.or(interesting(base + <usize>i), interesting(base + <usize>i + 16)),
            v128.or(interesting(base + <usize>i + 32), interesting(base + <usize>i + 48)),
          ),
        )
      ) i += 64;
      prevAlnum = (unchecked(CLASS[load<u8>(base + <usize>i - 1)]) & ALNUM) != 0;
      continue;
    }
    const upper = v128.and(i8x16.ge_u(v, V_A), i8x16.le_u(v, V_Z));
    const lower = v128.and(i8x16.ge_u(v, V_a), i8x16.le_u(v, V_z));
    const alnum = i8x16.bitmask(v128.or(digit, v128.or(upper, lower)));
    let start = 0;
    if (doCards) {
      start |= i8x16.bitmask(v128.and(digit, isDigitV(v128.load(base + <usize>i + 1))));
    }
    if (doKeys) {
      start |= i8x16.bitmask(
        v128.or(
          v128.or(i8x16.eq(v, V_s), i8x16.eq(v, V_g)),
          v128.or(i8x16.eq(v, V_A), i8x16.eq(v, V_x)),
        ),
      );
    }
    const prev = ((alnum << 1) | (prevAlnum ? 1 : 0)) & 0xffff;
    let rest = (start & ~prev) | (doEmails ? i8x16.bitmask(i8x16.eq(v, V_AT)) : 0);
    let matched = false;
    while (rest != 0) {
      const k = ctz(rest);
      rest &= rest - 1;
      const j = i + k;
      const c = load<u8>(base + <usize>j);
      // A letter candidate is worth a look only with the second byte of a key prefix.
      if (c >= 0x41 && !isKeyPair(c, load<u8>(base + <usize>j + 1))) continue;
      if (matchAt(p, j, c, ((prev >> k) & 1) == 0, floor)) {
        matched = true;
        break;
      }
    }
    if (matched) {
      starts.push(mStart);
      ends.push(mEnd);
      tokens.push(mToken);
      i = floor = mEnd;
      prevAlnum = true;
    } else {
      prevAlnum = ((alnum >> 15) & 1) != 0;
      i += 16;
    }
  }
  // The last few bytes, one at a time.
  while (i < n) {
    const c = load<u8>(base + <usize>i);
    if ((!prevAlnum || c == 0x40) && matchAt(p, i, c, !prevAlnum, floor)) {
      starts.push(mStart);
      ends.push(mEnd);
      tokens.push(mToken);
      i = floor = mEnd;
      prevAlnum = true;
      continue;
    }
    prevAlnum = (unchecked(CLASS[c]) & ALNUM) != 0;
    i++;
  }
  if (starts.length == 0) return allow();
  let size = n;
  for (let k = 0; k < starts.length; k++) size += tokens[k].length - (ends[k] - starts[k]);
  const out = new Uint8Array(size);
  let from = 0;
  let to = 0;
  let what = "";
  for (let k = 0; k < starts.length; k++) {
    memory.copy(out.dataStart + <usize>to, p.dataStart + <usize>from, <usize>(starts[k] - from));
    to += starts[k] - from;
    const t = tokens[k];
    for (let j = 0; j < t.length; j++) out[to + j] = <u8>t.charCodeAt(j);
    to += t.length;
    from = ends[k];
    if (!what.includes(t)) what += (what.length > 0 ? " " : "") + t;
  }
  memory.copy(out.dataStart + <usize>to, p.dataStart + <usize>from, <usize>(n - from));
  return redact(out, "redacted " + starts.length.toString() + " item(s): " + what);
}
