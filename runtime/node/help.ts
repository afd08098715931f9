/**
 * The node's `--help`: every flag of `NODE_FLAGS`, grouped by what it is about, one flag
 * a line with its description wrapped under it, and its default and environment variable
 * stated in words ("none", "off", "1048576 (1 MiB)") rather than as JSON.
 * @module
 */
import type { Flag } from "../config/mod.ts";
import { DEFAULT_CONFIG, NODE_FLAGS } from "./config.ts";

/** Help is laid out for this many columns. */
const WIDTH = 100;
/** Where descriptions start; a longer flag puts its description on the next line. */
const DESC_COLUMN = 32;

/**
 * The groups of `--help`, by flag name (the first group whose pattern matches takes the
 * flag). Grouping by name keeps the layers' flag tables untouched; a flag no pattern
 * matches is still listed, under "Other".
 */
const GROUPS: readonly (readonly [string, RegExp])[] = [
  [
    "Listening and connections",
    /^(host|port|node-id|ws-engine|idle-timeout|hello-timeout|max-connections|shutdown-grace-ms)$/,
  ],
  ["Storage", /^(data-dir|memory|sync|max-store-bytes|key-file)$/],
  ["Cluster (NATS JetStream)", /^cluster/],
  ["Authentication and TLS", /^(auth-.*|tls-.*|insecure|metrics-open)$/],
  [
    "Browsers and HTTP",
    /^(cors-origin|http-(header|body|idle)-timeout|max-http-body-bytes|sse-keepalive-ms)$/,
  ],
  [
    "Frames, requests and subscriptions",
    /^(max-frame-bytes|max-subscriptions|max-pending-requests|request-timeout-ms)$/,
  ],
  [
    "Subscriber queues and flow control",
    /^(queue-.*|overflow|high-water-bytes|max-batch-bytes|fair-quantum-us|reality-queue-bytes)$/,
  ],
  [
    "Rate limits and quotas",
    /^(rate-.*|reality-(rate|max)-.*|ban-seconds|http-rate-clients|max-realities|control-max-.*)$/,
  ],
  ["Logging and tracing", /^(log|log-format|log-level|otel-.*)$/],
  ["MQTT", /^mqtt-/],
  ["Raw TCP", /^tcp-/],
  ["Shared memory (local processes)", /^shm/],
  ["Policies (CASIL)", /^policy-/],
  ["Operators (Tier-Ω)", /^operator-/],
];

/** Joins words that `wrap` must not split apart; printed as a space. */
const GLUE = "\u0001";

/** Defaults that mean more than their value says (the command line's own defaults). */
const DEFAULT_WORDS: Readonly<Record<string, string>> = {
  "data-dir": "./data (none with --memory)",
  "mqtt-port": "none (no MQTT listener)",
  cluster: "none (embedded single node)",
  "tcp-port": "none (no TCP listener)",
};

function placeholder(f: Flag): string {
  if (f.kind === "bool") return "";
  if (f.kind === "enum") return ` <${f.choices!.join("|")}>`;
  if (f.kind === "int") return " <n>";
  if (/(^|-)(dir)$/.test(f.flag)) return " <dir>";
  if (/(cert|key|dids|file)$/.test(f.flag)) return " <file>";
  if (/endpoint$/.test(f.flag)) return " <url>";
  return " <value>";
}

/** A default in words: none, off/on, or the number (with KiB/MiB/GiB for byte sizes). */
function defaultWords(f: Flag, value: unknown): string {
  if (DEFAULT_WORDS[f.flag]) return DEFAULT_WORDS[f.flag];
  if (typeof value === "boolean") return value ? "on" : "off";
  if (value === "" || value === undefined || value === null) return "none";
  if (typeof value === "number" && /bytes/.test(f.flag) && value >= 1024 && value % 1024 === 0) {
    const units = ["KiB", "MiB", "GiB"];
    let n = value / 1024;
    let u = 0;
    while (n >= 1024 && n % 1024 === 0 && u < units.length - 1) {
      n /= 1024;
      u++;
    }
    return `${value}${GLUE}(${n}${GLUE}${units[u]})`;
  }
  return String(value);
}

/** `text` wrapped to `WIDTH` columns, every line indented by `indent` spaces. */
function wrap(text: string, indent: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(" ".repeat(indent) + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(" ".repeat(indent) + line);
  return lines.map((l) => l.replaceAll(GLUE, " "));
}

/** One entry: the flag, then its description, default and env variable, never run together. */
function entry(name: string, description: string): string[] {
  const head = `  ${name}`;
  const body = wrap(description, DESC_COLUMN);
  if (head.length <= DESC_COLUMN - 2 && body.length > 0) {
    return [head.padEnd(DESC_COLUMN) + body[0].trimStart(), ...body.slice(1)];
  }
  return [head, ...body];
}

function describe(f: Flag): string {
  const def = defaultWords(f, (DEFAULT_CONFIG as Record<string, unknown>)[f.key]);
  const sentence = f.help.charAt(0).toUpperCase() + f.help.slice(1);
  const repeat = f.repeatable ? " Repeatable." : "";
  // GLUE keeps "Default: x" and "Env: Y" on one line each when wrapped.
  const tail = `Default:${GLUE}${def}.${f.env ? ` Env:${GLUE}${f.env}.` : ""}`;
  return `${sentence}.${repeat} ${tail}`;
}

/** The `--help` text. */
export function helpText(): string {
  const lines = [
    "ArqonBus node: a message bus for AI agents, services and devices.",
    "",
    "Usage: deno task start [options]",
    "       deno run -A mod.ts [options]",
    "",
    "Every option can also come from a JSON file (--config, camelCase keys) and, where an Env",
    "variable is named, from the environment. Precedence: option, then environment, then file,",
    "then default. Data goes to ./data unless --data-dir or --memory says otherwise.",
    "",
    "General:",
    ...entry("--config <file>", "JSON file with any of the options below (camelCase keys)."),
    ...entry("--help", "Print this help and exit."),
  ];
  const taken = new Set<Flag>();
  const sections: [string, Flag[]][] = GROUPS.map(([title, re]) => {
    const flags = NODE_FLAGS.filter((f) => !taken.has(f) && re.test(f.flag));
    for (const f of flags) taken.add(f);
    return [title, flags];
  });
  sections.push(["Other", NODE_FLAGS.filter((f) => !taken.has(f))]);
  for (const [title, flags] of sections) {
    if (flags.length === 0) continue;
    lines.push("", `${title}:`);
    for (const f of flags) lines.push(...entry(`--${f.flag}${placeholder(f)}`, describe(f)));
  }
  return lines.join("\n");
}
