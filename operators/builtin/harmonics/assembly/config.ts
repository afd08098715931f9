// A linear reader for the operator's config, `{"program": "...", "source": "...", "topics":
// [...]}`: string members and arrays of strings, read from the config text itself. The SDK's
// JSON reader re-encodes the text and appends to a string at every escape (quadratic time
// and, with a bump allocator, memory): assembler text is one escape a line. Anything this
// reader does not take (numbers, nested objects) sends `init` to the SDK's reader, which
// reports it. Fuel is charged for every branch of a loop body on each pass, so the per-char
// loops here stay tiny and the escape code runs once per escape.

export class ConfigMember {
  constructor(public key: string, public isArray: bool, public value: string, public items: string[]) {}
}

class Reader {
  pos: i32 = 0;
  constructor(public s: string) {}

  space(): void {
    const s = this.s;
    while (true) {
      const c = s.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  peek(): i32 {
    return this.s.charCodeAt(this.pos);
  }

  /** A JSON string at `pos`, or null. */
  str(): string | null {
    const s = this.s;
    const n = s.length;
    if (this.peek() != 0x22) return null;
    this.pos++;
    let end = this.pos;
    let escapes = false;
    while (end < n) {
      const c = s.charCodeAt(end);
      if (c == 0x22) break;
      if (c == 0x5c) {
        escapes = true;
        end += 2;
      } else end++;
    }
    if (end >= n) return null;
    if (!escapes) {
      for (let i = this.pos; i < end; i++) if (s.charCodeAt(i) < 0x20) return null;
      const out = s.substring(this.pos, end);
      this.pos = end + 1;
      return out;
    }
    // Decoded, the text is never longer than raw (every escape is at least 2 units for 1).
    const buf = new StaticArray<u16>(end - this.pos);
    let k = 0;
    while (true) {
      const from = this.pos;
      let at = from;
      while (at < end) {
        const c = s.charCodeAt(at);
        if (c == 0x5c || c < 0x20) break;
        at++;
      }
      memory.copy(
        changetype<usize>(buf) + (<usize>k << 1),
        changetype<usize>(s) + (<usize>from << 1),
        <usize>(at - from) << 1,
      );
      k += at - from;
      this.pos = at;
      if (at >= end) break;
      if (s.charCodeAt(at) < 0x20) return null;
      const e = s.charCodeAt(at + 1);
      this.pos += 2;
      let u: i32 = -1;
      if (e == 0x6e) u = 0x0a;
      else if (e == 0x74) u = 0x09;
      else if (e == 0x72) u = 0x0d;
      else if (e == 0x62) u = 0x08;
      else if (e == 0x66) u = 0x0c;
      else if (e == 0x22 || e == 0x5c || e == 0x2f) u = e;
      else if (e == 0x75) u = this.hex4();
      if (u < 0) return null;
      unchecked(buf[k++] = <u16>u);
    }
    this.pos = end + 1;
    return String.UTF16.decodeUnsafe(changetype<usize>(buf), <usize>k << 1);
  }

  hex4(): i32 {
    let code = 0;
    for (let i = 0; i < 4; i++) {
      const h = this.s.charCodeAt(this.pos + i);
      let d = -1;
      if (h >= 0x30 && h <= 0x39) d = h - 0x30;
      else if (h >= 0x61 && h <= 0x66) d = h - 0x61 + 10;
      else if (h >= 0x41 && h <= 0x46) d = h - 0x41 + 10;
      if (d < 0) return -1;
      code = code * 16 + d;
    }
    this.pos += 4;
    return code;
  }
}

/**
 * The members of a config made only of strings and arrays of strings, or null when it has
 * anything else (or is not JSON): then the caller reads it with the SDK's JSON reader.
 */
export function readConfig(text: string): ConfigMember[] | null {
  const r = new Reader(text);
  const out: ConfigMember[] = [];
  r.space();
  if (r.peek() != 0x7b) return null;
  r.pos++;
  r.space();
  if (r.peek() == 0x7d) {
    r.pos++;
    r.space();
    return r.pos == text.length ? out : null;
  }
  while (true) {
    r.space();
    const key = r.str();
    if (key === null) return null;
    for (let i = 0; i < out.length; i++) if (out[i].key == key) return null;
    r.space();
    if (r.peek() != 0x3a) return null;
    r.pos++;
    r.space();
    if (r.peek() == 0x22) {
      const v = r.str();
      if (v === null) return null;
      out.push(new ConfigMember(key!, false, v!, []));
    } else if (r.peek() == 0x5b) {
      r.pos++;
      const items: string[] = [];
      r.space();
      if (r.peek() == 0x5d) r.pos++;
      else {
        while (true) {
          r.space();
          const v = r.str();
          if (v === null) return null;
          items.push(v!);
          r.space();
          const c = r.peek();
          r.pos++;
          if (c == 0x5d) break;
          if (c != 0x2c) return null;
        }
      }
      out.push(new ConfigMember(key!, true, "", items));
    } else return null;
    r.space();
    const c = r.peek();
    r.pos++;
    if (c == 0x7d) break;
    if (c != 0x2c) return null;
  }
  r.space();
  return r.pos == text.length ? out : null;
}
