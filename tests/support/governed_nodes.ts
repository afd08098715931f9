/**
 * Spawns cluster nodes (`mod.ts --cluster <nats url>`) as child processes on ephemeral
 * ports, in memory, for tests that use them over real sockets and kill them.
 * @module
 */

const ROOT = new URL("../../", import.meta.url);
/** ARQON_TEST_NODE_STDERR=1 shows the nodes' errors while a test runs. */
const SHOW_STDERR = Boolean(Deno.env.get("ARQON_TEST_NODE_STDERR"));

/** A node child process that printed its "ready" line. */
export interface GovernedNode {
  readonly child: Deno.ChildProcess;
  /** HTTP base URL. */
  readonly url: string;
  /** WebSocket URL. */
  readonly wsUrl: string;
  /** SIGTERM (or `signal`), then waits for the process. */
  stop(signal?: Deno.Signal): Promise<void>;
}

/** Spawns a cluster node on `natsUrl` with node `args`; resolves once it listens. */
export async function spawnGovernedNode(
  natsUrl: string,
  args: string[] = [],
): Promise<GovernedNode> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", "--port", "0", "--memory", "--cluster", natsUrl, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: SHOW_STDERR ? "inherit" : "piped",
  }).spawn();
  const stderr = SHOW_STDERR ? Promise.resolve("") : new Response(child.stderr).text();
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
      const drained = (async () => {
        while (!(await reader.read()).done) { /* drain */ }
        await stderr;
      })();
      let stopped = false;
      return {
        child,
        url: match[1],
        wsUrl: match[2],
        async stop(signal: Deno.Signal = "SIGTERM") {
          if (!stopped) {
            stopped = true;
            try {
              child.kill(signal);
            } catch { /* already gone */ }
          }
          await child.status;
          await drained;
        },
      };
    }
  }
}
