/**
 * Subscription trie: maps topic patterns to their subscribers and finds every
 * subscriber of a concrete topic in time proportional to its segments, not to the
 * number of subscriptions.
 * @module
 */
import { INBOX_SEGMENT } from "./inbox.ts";

class TrieNode<T> {
  children = new Map<string, TrieNode<T>>();
  star: TrieNode<T> | null = null;
  /** Subscribers whose pattern ends here. */
  here = new Set<T>();
  /** Subscribers whose pattern ends here with `>`. */
  rest = new Set<T>();

  get empty(): boolean {
    return this.children.size === 0 && this.star === null && this.here.size === 0 &&
      this.rest.size === 0;
  }
}

/** A trie of subscribers keyed by topic pattern; lives as long as its reality. */
export class SubscriptionTrie<T> {
  #root = new TrieNode<T>();
  #size = 0;

  /** Number of (pattern, subscriber) entries. */
  get size(): number {
    return this.#size;
  }

  /** Adds `value` under a valid pattern. */
  insert(pattern: string, value: T): void {
    const segments = pattern.split(".");
    let node = this.#root;
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i];
      if (s === ">") {
        if (!node.rest.has(value)) this.#size++;
        node.rest.add(value);
        return;
      }
      if (s === "*") {
        node.star ??= new TrieNode<T>();
        node = node.star;
      } else {
        let next = node.children.get(s);
        if (!next) node.children.set(s, next = new TrieNode<T>());
        node = next;
      }
    }
    if (!node.here.has(value)) this.#size++;
    node.here.add(value);
  }

  /** Removes `value` from a pattern; prunes empty branches. */
  remove(pattern: string, value: T): boolean {
    const segments = pattern.split(".");
    const path: [TrieNode<T>, string][] = [];
    let node: TrieNode<T> | undefined = this.#root;
    let removed = false;
    for (let i = 0; i < segments.length && node; i++) {
      const s = segments[i];
      if (s === ">") {
        removed = node.rest.delete(value);
        break;
      }
      path.push([node, s]);
      node = s === "*" ? node.star ?? undefined : node.children.get(s);
      if (node && i === segments.length - 1) removed = node.here.delete(value);
    }
    if (!removed) return false;
    this.#size--;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, s] = path[i];
      const child = s === "*" ? parent.star : parent.children.get(s);
      if (!child || !child.empty) break;
      if (s === "*") parent.star = null;
      else parent.children.delete(s);
    }
    return true;
  }

  /**
   * Every subscriber whose pattern matches the concrete `topic`. An inbox topic
   * (`_inbox.…`) is matched by its own literal pattern only: wildcards never see replies.
   * A presence topic (`sys.presence.…`) is not matched by wildcards in the first segment.
   */
  match(topic: string): T[] {
    const out: T[] = [];
    const segments = topic.split(".");
    if (segments[0] === INBOX_SEGMENT) {
      let node: TrieNode<T> | undefined = this.#root;
      for (let i = 0; node && i < segments.length; i++) node = node.children.get(segments[i]);
      if (node) { for (const v of node.here) out.push(v); }
      return out;
    }
    if (segments[0] === "sys" && segments[1] === "presence") {
      // Presence events reach only patterns naming `sys` (`sys.presence.>`, `sys.>`): a
      // subscriber to `>` or `*.…` did not ask for every connect and disconnect.
      const sys = this.#root.children.get("sys");
      if (sys) this.#walk(sys, segments, 1, out);
      return out;
    }
    this.#walk(this.#root, segments, 0, out);
    return out;
  }

  #walk(node: TrieNode<T>, segments: string[], i: number, out: T[]): void {
    if (i === segments.length) {
      for (const v of node.here) out.push(v);
      return;
    }
    for (const v of node.rest) out.push(v);
    const exact = node.children.get(segments[i]);
    if (exact) this.#walk(exact, segments, i + 1, out);
    if (node.star) this.#walk(node.star, segments, i + 1, out);
  }
}
