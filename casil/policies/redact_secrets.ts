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
  // The first two bytes pick the prefixes to try (in KEY_PREFIXES' order): sk, gh, gi, AK,
  // AI, xo; any other pair starts no key.
  const c = unchecked(p[at]);
  const d = unchecked(p[at + 1]);
  let from = 0;
  let to = 0;
  if (c == 0x73 && d == 0x6b) to = 3;
  else if (c == 0x67 && d == 0x68) (from = 3), (to = 7);
  else if (c == 0x67 && d == 0x69) (from = 7), (to = 8);
  else if (c == 0x41 && d == 0x4b) (from = 8), (to = 9);
  else if (c == 0x41 && d == 0x49) (from = 9), (to = 10);
  else if (c == 0x78 && d == 0x6f) (from = 10), (to = 15);
  else return -1;
  for (let k = from; k < to; k++) {
    const prefix = unchecked(KEY_PREFIXES[k]);
    if (!startsWith(p, at, prefix)) continue;
    const body = at + prefix.length;
    const n = runOf(p, body);
    if (n >= unchecked(KEY_MIN[k])) return body + n;
  }
  return -1;
}

/** End of a Luhn-valid card number starting at `at`, or -1. */
function cardAt(p: Uint8Array, at: i32): i32 {
  // Runs for every run of 13 or more digits (millisecond timestamps are as long): bytes
  // are read unchecked, every index stays below n.
  const base = p.dataStart;
  const n = p.length;
  let digits = 0;
  let e = at;
  let lastDigitEnd = at;
  while (e < n && digits < 20) {
    const c = load<u8>(base + <usize>e);
    if (isDigit(c)) {
      digits++;
      e++;
      lastDigitEnd = e;
    } else if ((c == 0x20 || c == 0x2d) && e + 1 < n && isDigit(load<u8>(base + <usize>e + 1)) && e > at) {
      e++;
    } else break;
  }
  if (digits < 13 || digits > 19) return -1;
  if (lastDigitEnd < n && isAlnum(load<u8>(base + <usize>lastDigitEnd))) return -1;
  // Luhn over the digits, right to left.
  let sum = 0;
  let dbl = false;
  for (let i = lastDigitEnd - 1; i >= at; i--) {
    const c = load<u8>(base + <usize>i);
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

// Byte classes of the one-byte-at-a-time path (short payloads) and of the byte before a chunk.
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

const ALLOWED: Verdict = allow();

// The scan looks at 16 positions at a time and rules most of them out with vector compares
// of the chunk (v) and the chunk one byte later (v1): a key can only start at one of its
// prefixes' first two bytes (sk gh gi AK AI xo), a card only at a digit that begins 13 bytes
// of digits, spaces or dashes (13 digits or more, single separators between them), an e-mail
// only around an `@`. Ordinary text has almost none of these, so most chunks cost a few compares;
// what is left is checked one position at a time by the detectors above, which alone decide.

const V_0 = i8x16.splat(0x30);
const V_10 = i8x16.splat(10);
const V_A = i8x16.splat(0x41);
const V_Z = i8x16.splat(0x5a);
const V_a = i8x16.splat(0x61);
const V_z = i8x16.splat(0x7a);
const V_AT = i8x16.splat(0x40);
const V_SPACE = i8x16.splat(0x20);
const V_DASH = i8x16.splat(0x2d);
const V_NONE = i8x16.splat(0);
const V_ALL = i8x16.splat(-1);

// @ts-ignore: decorator
@inline function isDigitV(v: v128): v128 {
  // One unsigned compare: bytes below '0' wrap around to large values.
  return i8x16.lt_u(i8x16.sub(v, V_0), V_10);
}

/** Lanes holding a digit, a space or a dash (what a card number is made of). */
// @ts-ignore: decorator
@inline function cardByteV(v: v128): v128 {
  return v128.or(isDigitV(v), v128.or(i8x16.eq(v, V_SPACE), i8x16.eq(v, V_DASH)));
}

// Per low nibble: the first byte of a key prefix with that low nibble (A 1, s 3, g 7, x 8;
// elsewhere a byte of another low nibble, which no lane can equal), and the second bytes
// that may follow it (K or I after A, k after s, h or i after g, o after x).
const T_FIRST = i8x16(0x01, 0x41, 0x03, 0x73, 0x05, 0x04, 0x07, 0x67, 0x78, 0x08, 0x0b, 0x0a, 0x0d, 0x0c, 0x0f, 0x0e);
const T_SECOND = i8x16(0, 0x4b, 0, 0x6b, 0, 0, 0, 0x68, 0x6f, 0, 0, 0, 0, 0, 0, 0);
const T_SECOND2 = i8x16(0, 0x49, 0, 0x6b, 0, 0, 0, 0x69, 0x6f, 0, 0, 0, 0, 0, 0, 0);
const V_LOW = i8x16.splat(0x0f);

/** Lanes where a key prefix's first two bytes are: (v, v1) is sk, gh, gi, AK, AI or xo. */
// @ts-ignore: decorator
@inline function keyPairV(v: v128, v1: v128): v128 {
  const lo = v128.and(v, V_LOW);
  return v128.and(
    i8x16.eq(v, i8x16.swizzle(T_FIRST, lo)),
    v128.or(i8x16.eq(v1, i8x16.swizzle(T_SECOND, lo)), i8x16.eq(v1, i8x16.swizzle(T_SECOND2, lo))),
  );
}

/** Lanes holding a letter or a digit. */
// @ts-ignore: decorator
@inline function alnumV(v: v128): v128 {
  const upper = v128.and(i8x16.ge_u(v, V_A), i8x16.le_u(v, V_Z));
  const lower = v128.and(i8x16.ge_u(v, V_a), i8x16.le_u(v, V_z));
  return v128.or(isDigitV(v), v128.or(upper, lower));
}

/** The bits j of `m` for which bits j..j+12 are all set (a run of 13 card bytes from j). */
// @ts-ignore: decorator
@inline function run13(m: u32): u32 {
  const r2 = m & (m >> 1);
  const r4 = r2 & (r2 >> 2);
  const r8 = r4 & (r4 >> 4);
  return r8 & (r4 >> 8) & (m >> 12);
}

// The match `matchAt` found.
let mStart: i32 = 0;
let mEnd: i32 = 0;
let mToken = "";

/**
 * Tries the detector for the byte `c` at `i`: an e-mail around an `@`, a card at a digit,
 * a key at a letter (the caller makes sure a key or a card starts a word). True with
 * mStart/mEnd/mToken set on a match.
 */
function matchAt(p: Uint8Array, i: i32, c: u8, floor: i32): bool {
  if (c == 0x40) {
    if (!doEmails) return false;
    const r = emailAround(p, i, floor);
    if (r < 0) return false;
    mStart = <i32>(r >> 32);
    mEnd = <i32>(r & 0xffffffff);
    mToken = TOKEN_EMAIL;
    return true;
  }
  if (isDigit(c)) {
    if (!doCards) return false;
    const e = cardAt(p, i);
    if (e < 0) return false;
    mStart = i;
    mEnd = e;
    mToken = TOKEN_CARD;
    return true;
  }
  if (!doKeys) return false;
  const e = keyAt(p, i);
  if (e < 0) return false;
  mStart = i;
  mEnd = e;
  mToken = TOKEN_KEY;
  return true;
}

// Matches of the current call, as (start, end, token), in order and not overlapping; made on
// the first match only (most payloads have none).
let starts: Array<i32> | null = null;
let ends: Array<i32> | null = null;
let tokens: Array<string> | null = null;

/** Keeps the match `matchAt` found. */
function keepMatch(): void {
  if (starts === null) {
    starts = new Array<i32>(0);
    ends = new Array<i32>(0);
    tokens = new Array<string>(0);
  }
  starts!.push(mStart);
  ends!.push(mEnd);
  tokens!.push(mToken);
}

export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
  const p = payload;
  const n = p.length;
  const base = p.dataStart;
  // Per call: what the previous call allocated went with its release.
  starts = null;
  ends = null;
  tokens = null;
  const keysOn = doKeys ? V_ALL : V_NONE;
  const mailsOn = doEmails ? V_ALL : V_NONE;
  const cardsOn = doCards ? V_ALL : V_NONE;
  let floor = 0; // end of the last match
  let i = 0; // the next position to look at
  if (n >= 17) {
    // Nothing can start at the last byte (a key or a card takes 2 or more, an e-mail needs a
    // domain after its `@`), so positions up to n - 2 are looked at: in chunks of 16 at i
    // (reading 17 bytes), and the last few in the last whole chunk (n - 17) with the lanes
    // already looked at masked off.
    while (i < n - 1) {
      let s = i;
      let lanes: i32 = 0xffff;
      if (i + 17 > n) {
        s = n - 17;
        lanes = (0xffff << (i - s)) & 0xffff;
      }
      const at = base + <usize>s;
      const v = v128.load(at);
      const v1 = v128.load(at + 1);
      const digit = v128.and(isDigitV(v), cardsOn);
      const keys = v128.and(keyPairV(v, v1), keysOn);
      const mails = v128.and(i8x16.eq(v, V_AT), mailsOn);
      if (!v128.any_true(v128.or(v128.or(keys, mails), digit))) {
        if (s != i) break;
        i += 16;
        continue;
      }
      let word = i8x16.bitmask(keys);
      const digits = i8x16.bitmask(digit);
      if (digits != 0) {
        // Card bytes at s..s+31 (what lies past the payload counts as none): the last 16
        // bytes' view is shifted into place when fewer than 32 are left.
        const hi = min(s + 16, n - 16);
        const m = <u32>i8x16.bitmask(cardByteV(v)) |
          (<u32>i8x16.bitmask(cardByteV(v128.load(base + <usize>hi))) << <u32>(hi - s));
        word |= digits & <i32>run13(m);
      }
      let rest = (word | i8x16.bitmask(mails)) & lanes;
      if (rest != 0) {
        // Keys and cards start words: the byte before may not be a letter or a digit.
        const before = s > 0 && (unchecked(CLASS[load<u8>(at - 1)]) & ALNUM) != 0 ? 1 : 0;
        const prev = ((i8x16.bitmask(alnumV(v)) << 1) | before) & 0xffff;
        rest &= ~(word & prev);
      }
      let matched = false;
      while (rest != 0) {
        const k = ctz(rest);
        rest &= rest - 1;
        const j = s + k;
        if (matchAt(p, j, load<u8>(base + <usize>j), floor)) {
          matched = true;
          break;
        }
      }
      if (matched) {
        keepMatch();
        i = floor = mEnd;
      } else {
        if (s != i) break;
        i += 16;
      }
    }
  } else {
    // Short payloads, one byte at a time.
    let prevAlnum = false;
    while (i < n) {
      const c = load<u8>(base + <usize>i);
      const cls = unchecked(CLASS[c]);
      if (
        (c == 0x40 || (!prevAlnum && (cls & (DIGIT | KEY_START)) != 0)) &&
        matchAt(p, i, c, floor)
      ) {
        keepMatch();
        i = floor = mEnd;
        prevAlnum = true;
        continue;
      }
      prevAlnum = (cls & ALNUM) != 0;
      i++;
    }
  }
  if (starts === null) return ALLOWED;
  const st = starts!;
  const en = ends!;
  const tk = tokens!;
  let size = n;
  for (let k = 0; k < st.length; k++) size += tk[k].length - (en[k] - st[k]);
  const out = new Uint8Array(size);
  let from = 0;
  let to = 0;
  let what = "";
  for (let k = 0; k < st.length; k++) {
    memory.copy(out.dataStart + <usize>to, p.dataStart + <usize>from, <usize>(st[k] - from));
    to += st[k] - from;
    const t = tk[k];
    for (let j = 0; j < t.length; j++) out[to + j] = <u8>t.charCodeAt(j);
    to += t.length;
    from = en[k];
    if (!what.includes(t)) what += (what.length > 0 ? " " : "") + t;
  }
  memory.copy(out.dataStart + <usize>to, p.dataStart + <usize>from, <usize>(n - from));
  const count = st.length;
  starts = null;
  ends = null;
  tokens = null;
  return redact(out, "redacted " + count.toString() + " item(s): " + what);
}
