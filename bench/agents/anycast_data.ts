/**
 * The synthetic embeddings of the anycast benches: 1,000 capability clusters (unit
 * centres) with agents spread around them, and queries near a random agent's capability,
 * the shape of "route this task to whoever does it best". Deterministic: the same
 * embeddings every run.
 * @module
 */

/** Dimension of every embedding (a common sentence-embedding size). */
export const DIM = 384;

/** A deterministic generator: the same embeddings every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

/** `n` embeddings around 1,000 centres, and `q` queries near random embeddings. */
export function dataset(n: number, q: number): { rows: Float32Array[]; queries: Float32Array[] } {
  const next = rng(42);
  const centres = Array.from(
    { length: 1000 },
    () => unit(Float32Array.from({ length: DIM }, next)),
  );
  const rows: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const c = centres[i % centres.length];
    rows.push(unit(Float32Array.from(c, (x) => x + 0.08 * next())));
  }
  const queries: Float32Array[] = [];
  for (let i = 0; i < q; i++) {
    const r = rows[Math.floor((next() + 0.5) * n) % n];
    queries.push(unit(Float32Array.from(r, (x) => x + 0.04 * next())));
  }
  return { rows, queries };
}
