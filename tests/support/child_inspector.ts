/**
 * A node child's V8 inspector, for RSS tests: the child runs with `--inspect=127.0.0.1:0`
 * ({@linkcode INSPECT_FLAG}) and the test asks it for a full garbage collection before it
 * reads the child's RSS. V8 sizes its heap by its own heuristics: under a flood it grows
 * the young generation up to its maximum (16 -> 64 MB on this machine, at a point that
 * depends on scheduling) and leaves promoted garbage in old space until the next
 * mark-compact. Without a collection a test cannot tell that from memory the node keeps;
 * after one, what is left in the RSS is what the node keeps (JS objects and native memory
 * alike) and the allocators' fragmentation.
 * @module
 */

/** The runtime flag that opens the inspector on an ephemeral loopback port. */
export const INSPECT_FLAG = "--inspect=127.0.0.1:0";

/** The inspector's WebSocket URL in what the child printed on stderr (undefined: not yet). */
export function inspectorUrlIn(stderr: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
}

/** A Chrome DevTools Protocol session with one child process. */
export class ChildInspector {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, (reply: { result?: unknown; error?: unknown }) => void>();
  #nextId = 1;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const reply = JSON.parse(event.data);
      if (reply.id === undefined) return;
      this.#pending.get(reply.id)?.(reply);
      this.#pending.delete(reply.id);
    };
  }

  /** Connects to the inspector at `url` (the child's stderr says it). */
  static async connect(url: string): Promise<ChildInspector> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot reach the inspector at ${url}`));
    });
    return new ChildInspector(ws);
  }

  /** Calls one protocol method; rejects with its error. */
  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (reply) => {
        if (reply.error) reject(new Error(`${method}: ${JSON.stringify(reply.error)}`));
        else resolve(reply.result as T);
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /**
   * A full, memory-reducing collection of the main isolate (what DevTools' "collect
   * garbage" does): the young generation shrinks back and freed pages go back to the OS.
   */
  async collectGarbage(): Promise<void> {
    await this.call("HeapProfiler.collectGarbage");
  }

  /** Bytes of the main isolate's heap in use. */
  async heapUsed(): Promise<number> {
    return (await this.call<{ usedSize: number }>("Runtime.getHeapUsage")).usedSize;
  }

  /** Closes the session (the child keeps running). */
  close(): void {
    try {
      this.#ws.close();
    } catch { /* already closed */ }
  }
}

/**
 * The RSS of a child after a full collection through its inspector at `url`: the lowest of a
 * few readings over about half a second (V8 unmaps freed pages from its background threads).
 * A session is opened for it and closed again: held open, it made each operator Worker's
 * start about three times slower (1.7 s against 0.5-0.7 s a replacement).
 */
export async function rssAfterCollection(url: string, rss: () => number): Promise<number> {
  const inspector = await ChildInspector.connect(url);
  try {
    await inspector.collectGarbage();
  } finally {
    inspector.close();
  }
  let low = Infinity;
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 100));
    low = Math.min(low, rss());
  }
  return low;
}
