// Standard base64 (RFC 4648 section 4, `=` padding optional, no whitespace).

function sextet(c: i32): i32 {
  if (c >= 65 && c <= 90) return c - 65;
  if (c >= 97 && c <= 122) return c - 71;
  if (c >= 48 && c <= 57) return c + 4;
  if (c == 43) return 62;
  if (c == 47) return 63;
  return -1;
}

/** The bytes of the base64 `text`, or null when it is not base64. */
export function decodeBase64(text: string): Uint8Array | null {
  let n = text.length;
  if (n % 4 == 0 && n > 0 && text.charCodeAt(n - 1) == 61) {
    n--;
    if (text.charCodeAt(n - 1) == 61) n--;
  }
  if (n % 4 == 1) return null;
  const out = new Uint8Array(<i32>(n * 3 / 4));
  let bits: u32 = 0;
  let have = 0;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const v = sextet(text.charCodeAt(i));
    if (v < 0) return null;
    bits = (bits << 6) | <u32>v;
    have += 6;
    if (have >= 8) {
      have -= 8;
      unchecked(out[at++] = <u8>(bits >> <u32>have));
    }
  }
  return out;
}
