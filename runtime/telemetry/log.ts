/**
 * The node's structured log: one line per event (connects, disconnects, errors, installs,
 * kicks), as text for people or as one JSON object per line for log shippers.
 * @module
 */

/** Severity of a log line, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** How a line is written: `text` (`arqon: event key=value`) or `json` (one object a line). */
export type LogFormat = "text" | "json";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The log options of the node. */
export interface LogOptions {
  /**
   * Log line format: `text` or `json` (one JSON object per line on stderr).
   * @default {"text"}
   */
  logFormat: LogFormat;
  /**
   * Lowest level written (`--log quiet` still keeps only errors).
   * @default {"info"}
   */
  logLevel: LogLevel;
}

/** Defaults of the log options. */
export const LOG_DEFAULTS: Readonly<LogOptions> = Object.freeze({
  logFormat: "text",
  logLevel: "info",
});

/** Fields of a log line beside its event name. */
export type LogFields = Record<string, unknown>;

/**
 * Writes the node's event lines at or above its level. JSON lines carry `ts` (ISO time),
 * `level`, `event` and the fields; text lines read `arqon: <event> key=value ...`.
 *
 * @example
 * ```ts
 * import { Logger } from "./log.ts";
 *
 * const log = new Logger({ logFormat: "json", logLevel: "info" });
 * log.info("connect", { session: "s1", transport: "websocket" });
 * // {"ts":"...","level":"info","event":"connect","session":"s1","transport":"websocket"}
 * ```
 */
export class Logger {
  readonly #min: number;
  readonly #json: boolean;
  readonly #write: (line: string, level: LogLevel) => void;

  /**
   * A logger for `options`; `write` receives each finished line (default: the console,
   * stderr for JSON lines and for warnings and errors).
   */
  constructor(options: LogOptions, write?: (line: string, level: LogLevel) => void) {
    this.#min = RANK[options.logLevel];
    this.#json = options.logFormat === "json";
    this.#write = write ?? ((line, level) => {
      if (this.#json || level === "warn" || level === "error") console.error(line);
      else console.log(line);
    });
  }

  /** Whether lines of `level` are written (callers skip building costly fields). */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#min;
  }

  /** Writes one event line at `level`. */
  log(level: LogLevel, event: string, fields: LogFields = {}): void {
    if (RANK[level] < this.#min) return;
    if (this.#json) {
      this.#write(
        JSON.stringify({ ts: new Date().toISOString(), level, event, ...plain(fields) }),
        level,
      );
      return;
    }
    let line = `arqon: ${event}`;
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      const s = v instanceof Error ? v.message : typeof v === "string" ? v : JSON.stringify(v);
      line += k === "message" ? `: ${s}` : ` ${k}=${s}`;
    }
    this.#write(line, level);
  }

  /** A `debug` line. */
  debug(event: string, fields?: LogFields): void {
    this.log("debug", event, fields);
  }

  /** An `info` line. */
  info(event: string, fields?: LogFields): void {
    this.log("info", event, fields);
  }

  /** A `warn` line. */
  warn(event: string, fields?: LogFields): void {
    this.log("warn", event, fields);
  }

  /** An `error` line. */
  error(event: string, fields?: LogFields): void {
    this.log("error", event, fields);
  }
}

// Errors serialize to {} by default: a log line keeps their message (and code, if typed).
function plain(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error
      ? { message: v.message, ...("code" in v ? { code: (v as { code: unknown }).code } : {}) }
      : v;
  }
  return out;
}
