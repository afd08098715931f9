/**
 * A raw Server-Sent Events client over `fetch` for tests: no SDK, no EventSource, the
 * bytes parsed as the SSE spec frames them (events end at a blank line; `:` lines are
 * comments).
 * @module
 */

/** One SSE event, or a comment line (`event` = `comment`). */
export interface SseEvent {
  /** `event:` field (`message` when absent), or `comment`. */
  readonly event: string;
  /** `id:` field, when present. */
  readonly id?: string;
  /** The `data:` lines joined with newlines. */
  readonly data: string;
}

/** An open SSE response being read event by event. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  readonly #abort: AbortController;
  #buffer = "";
  #queue: SseEvent[] = [];
  /** The HTTP response (status, headers). */
  readonly response: Response;

  private constructor(response: Response, abort: AbortController) {
    this.response = response;
    this.#abort = abort;
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Opens `url` with `headers`; resolves once the response head arrived. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const abort = new AbortController();
    const response = await fetch(url, {
      headers: { accept: "text/event-stream", ...headers },
      signal: abort.signal,
    });
    return new SseReader(response, abort);
  }

  /** The next event (comments included); null when the stream ended. */
  async next(): Promise<SseEvent | null> {
    while (this.#queue.length === 0) {
      const cut = this.#buffer.indexOf("\n\n");
      if (cut >= 0) {
        this.#parse(this.#buffer.slice(0, cut));
        this.#buffer = this.#buffer.slice(cut + 2);
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#buffer += value.replaceAll("\r\n", "\n");
    }
    return this.#queue.shift()!;
  }

  /** The next event named `event`, skipping others. */
  async nextOf(event: string): Promise<SseEvent | null> {
    for (;;) {
      const e = await this.next();
      if (e === null || e.event === event) return e;
    }
  }

  #parse(block: string): void {
    let event = "message";
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) {
        this.#queue.push({ event: "comment", data: line.slice(1).trim() });
        continue;
      }
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "id") id = value;
      else if (field === "data") data.push(value);
    }
    if (data.length || id !== undefined) this.#queue.push({ event, id, data: data.join("\n") });
  }

  /** Disconnects (the client going away). */
  close(): void {
    this.#abort.abort();
    this.#reader.cancel().catch(() => {});
  }
}
