/**
 * A node run as a child process on an ephemeral port, for tests that kill and restart it.
 * @module
 */

const ROOT = new URL("../", import.meta.url);

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
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "mod.ts", "--port", "0", "--data-dir", dataDir, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
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
        return new NodeProcess(child, match[1], match[2], rest);
      }
    }
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
