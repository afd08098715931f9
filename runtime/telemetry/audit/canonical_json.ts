/**
 * Canonical JSON: object keys sorted, no whitespace. Hashes of audit entries are taken over
 * this form so that the same entry always hashes the same, whoever serialised it.
 * @module
 */

/** Serialises `value` with object keys in sorted order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    const text = JSON.stringify(value);
    return text === undefined ? "null" : text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}
