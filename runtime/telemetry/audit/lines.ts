/**
 * Reading a JSON-lines file a chunk at a time, synchronously: the audit log is read from
 * disk (at open, for old pages, to verify) without holding the whole file in memory.
 * @module
 */

const CHUNK = 64 * 1024;

/**
 * Calls `each(line, offset)` for every line of `path` from byte `from` on (`offset`: where
 * the line starts; a last line without its newline counts too) until `each` returns false.
 * Lines are decoded as UTF-8.
 * @example
 * ```ts ignore
 * eachLine("audit.jsonl", 0, (line) => (console.log(line), true));
 * ```
 */
export function eachLine(
  path: string,
  from: number,
  each: (line: string, offset: number) => boolean,
): void {
  const file = Deno.openSync(path, { read: true });
  try {
    file.seekSync(from, Deno.SeekMode.Start);
    const decoder = new TextDecoder();
    const buf = new Uint8Array(CHUNK);
    let carry = new Uint8Array(0);
    let offset = from;
    for (;;) {
      const n = file.readSync(buf);
      if (n === null || n === 0) break;
      const data = carry.length ? concat(carry, buf.subarray(0, n)) : buf.subarray(0, n);
      let start = 0;
      for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, start)) {
        if (!each(decoder.decode(data.subarray(start, i)), offset)) return;
        offset += i + 1 - start;
        start = i + 1;
      }
      carry = data.slice(start);
    }
    if (carry.length) each(decoder.decode(carry), offset);
  } finally {
    file.close();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
