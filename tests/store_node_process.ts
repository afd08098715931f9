/**
 * A node run as a child process on an ephemeral port, for tests that kill and restart it.
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** A node child process that printed its "ready" line. */
export interface SpawnedNode {
  readonly child: Deno.ChildProcess;
  /** HTTP base URL. */
  readonly url: string;
  /** WebSocket URL. */
  readonly wsUrl: string;
  /** What the node printed on stdout up to "ready". */
  readonly banner: string;
  /** Resolves with stderr once stdout and stderr are drained. */
  readonly rest: Promise<string>;
  /**
   * With `--inspect` among the runtime flags: resolves with the inspector's WebSocket URL
   * (undefined when stderr ended without one).
   */
  readonly inspectorUrl: Promise<string | undefined>;
}

/**
 * Spawns `mod.ts --port 0` with `args` (and Deno's `runtimeFlags`, such as `--inspect`, before
 * it); resolves once it is listening.
 */
export async function spawnNode(
  args: string[],
  runtimeFlags: string[] = [],
): Promise<SpawnedNode> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...runtimeFlags, "mod.ts", "--port", "0", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let errText = "";
  let foundUrl: (url: string | undefined) => void = () => {};
  const inspectorUrl = new Promise<string | undefined>((r) => foundUrl = r);
  const stderr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      errText += chunk;
      const url = /Debugger listening on (ws:\/\/\S+)/.exec(errText)?.[1];
      if (url) foundUrl(url);
    }
    foundUrl(undefined);
    return errText;
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`node exited before listening:\n${seen}\n${await stderr}`);
    }
    seen += value;
    const match = seen.match(/ready on (\S+) \(ws (\S+)\)/);
    if (match) {
      const rest = (async () => {
        while (!(await reader.read()).done) { /* drain */ }
        return await stderr;
      })();
      return { child, url: match[1], wsUrl: match[2], banner: seen, rest, inspectorUrl };
    }
  }
}

/** A running node child process. */
export class NodeProcess {
  /** HTTP base URL. */
  readonly url: string;
  /** WebSocket URL. */
  readonly wsUrl: string;
  readonly #child: Deno.ChildProcess;
  readonly #output: Promise<string>;

  private constructor(child: Deno.ChildProcess, url: string, wsUrl: string, rest: Promise<string>) {
    this.#child = child;
    this.url = url;
    this.wsUrl = wsUrl;
    this.#output = rest;
  }

  /** Starts `mod.ts` on port 0 with `dataDir`; resolves once it is listening. */
  static async start(dataDir: string, args: string[]): Promise<NodeProcess> {
    const node = await spawnNode(["--data-dir", dataDir, ...args]);
    return new NodeProcess(node.child, node.url, node.wsUrl, node.rest);
  }

  /** Process id (for /proc readings). */
  get pid(): number {
    return this.#child.pid;
  }

  /** Sends a signal. */
  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch { /* already gone */ }
  }

  /** Resolves with the exit status once the process is gone and its output drained. */
  async exited(): Promise<Deno.CommandStatus> {
    const status = await this.#child.status;
    await this.#output;
    return status;
  }
}
