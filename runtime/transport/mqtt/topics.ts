/**
 * MQTT topic names and filters as ArqonBus topics and patterns: levels `a/b/c` are
 * segments `a.b.c`, the wildcards `+` and `#` are `*` and `>`. What cannot be mapped both
 * ways (empty levels, a `.` or an upper-case letter inside a level, `$`-topics) is refused,
 * so every delivered topic maps back to the name that was published.
 * @module
 */
import { patternError, realityError, topicError } from "../../protocol/mod.ts";

/** A mapped topic or pattern, or why it was refused. */
export type Mapped = { ok: true; value: string } | { ok: false; error: string };

/** A subscription filter with its MQTT 5 shared-subscription group, if any. */
export interface MappedFilter {
  /** The ArqonBus pattern. */
  readonly pattern: string;
  /** `$share/<group>/...`: the queue group its members share messages in; "" otherwise. */
  readonly queueGroup: string;
}

function levels(name: string, what: string): string[] | string {
  if (name.length === 0) return `${what} is empty`;
  if (name.startsWith("$")) return `${what} '${name}' starts with '$' (reserved)`;
  const parts = name.split("/");
  for (const p of parts) {
    // A '.' would silently add a level once mapped: refused rather than re-read.
    if (p.includes(".")) return `${what} level '${p}' contains '.'`;
  }
  return parts;
}

/**
 * Maps an MQTT topic name (no wildcards) to an ArqonBus topic.
 *
 * @example
 * ```ts
 * import { topicFromMqtt } from "./topics.ts";
 *
 * topicFromMqtt("sensors/kitchen/temp"); // { ok: true, value: "sensors.kitchen.temp" }
 * topicFromMqtt("sensors//temp").ok; // false: empty level
 * ```
 */
export function topicFromMqtt(name: string): Mapped {
  const parts = levels(name, "topic");
  if (typeof parts === "string") return { ok: false, error: parts };
  if (parts.some((p) => p === "+" || p === "#" || p.includes("+") || p.includes("#"))) {
    return { ok: false, error: `topic '${name}' contains a wildcard` };
  }
  const topic = parts.join(".");
  const error = topicError(topic);
  return error ? { ok: false, error: `topic '${name}': ${error}` } : { ok: true, value: topic };
}

/**
 * Maps an MQTT topic filter to an ArqonBus pattern; `$share/<group>/<filter>` (MQTT 5
 * shared subscriptions, accepted from 3.1.1 clients too) becomes a queue group.
 */
export function filterFromMqtt(filter: string): { ok: true; value: MappedFilter } | {
  ok: false;
  error: string;
} {
  let queueGroup = "";
  let rest = filter;
  if (filter.startsWith("$share/")) {
    const slash = filter.indexOf("/", 7);
    queueGroup = slash < 0 ? "" : filter.slice(7, slash);
    if (!queueGroup || /[+#]/.test(queueGroup)) {
      return { ok: false, error: `shared subscription '${filter}' names no valid group` };
    }
    rest = filter.slice(slash + 1);
  }
  const parts = levels(rest, "filter");
  if (typeof parts === "string") return { ok: false, error: parts };
  const mapped: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p === "+") mapped.push("*");
    else if (p === "#") {
      if (i !== parts.length - 1) return { ok: false, error: "'#' must be the last level" };
      mapped.push(">");
    } else if (p.includes("+") || p.includes("#")) {
      return { ok: false, error: `filter level '${p}' mixes a wildcard with text` };
    } else mapped.push(p);
  }
  const pattern = mapped.join(".");
  const error = patternError(pattern);
  if (error) return { ok: false, error: `filter '${filter}': ${error}` };
  return { ok: true, value: { pattern, queueGroup } };
}

/** Maps an ArqonBus topic back to the MQTT topic name it came from (`a.b.c` -> `a/b/c`). */
export function topicToMqtt(topic: string): string {
  return topic.replaceAll(".", "/");
}

/**
 * The reality an MQTT connection works in, named by its user name: empty, absent or
 * `default` is the default reality. The password carries the token.
 */
export function realityFromUsername(username: string | undefined): Mapped {
  if (!username || username === "default") return { ok: true, value: "" };
  const error = realityError(username);
  return error ? { ok: false, error } : { ok: true, value: username };
}
