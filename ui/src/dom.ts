/// <reference lib="dom" />
/**
 * Building elements without `innerHTML`: every value the node returns (topics, payloads,
 * subjects) reaches the page as text, never as markup.
 * @module
 */

/** What an element may hold: nodes, text, numbers; null and false are skipped. */
export type Child = Node | string | number | null | undefined | false;

/** Attribute values; false and undefined leave the attribute out. */
export type Attrs = Record<string, string | number | boolean | undefined>;

/** Creates an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** A table with a header row; `empty` is shown in one cell when there are no rows. */
export function table(
  headers: readonly string[],
  rows: readonly Child[][],
  empty = "none",
): HTMLTableElement {
  const body = rows.length > 0
    ? rows.map((cells) =>
      h("tr", {}, ...cells.map((c) => c instanceof HTMLTableCellElement ? c : h("td", {}, c)))
    )
    : [h("tr", {}, h("td", { colspan: headers.length, class: "empty" }, empty))];
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, ...headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, ...body),
  );
}

/** A numeric cell: right-aligned, its raw value in `data-value` (tests and copy-paste). */
export function num(value: number, digits = 0, testid?: string): HTMLTableCellElement {
  return h("td", { class: "num", "data-value": value, "data-testid": testid }, fmt(value, digits));
}

/** A number for people: thousands grouped, `digits` decimals. */
export function fmt(value: number, digits = 0): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Replaces the content of the element with id `id` (no-op when absent). */
export function fill(id: string, ...children: Child[]): void {
  const el = document.getElementById(id);
  if (!el) return;
  el.replaceChildren();
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Pretty-printed JSON in a `<pre>`, as text. */
export function jsonBlock(value: unknown): HTMLPreElement {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}
