/**
 * A real `nats-server` (Debian's) with JetStream on a free loopback port, its storage in
 * a temporary folder, for tests of the cluster parts. Stopped (and its folder removed)
 * by `stop`.
 * @module
 */

/** A running nats-server. */
export interface JetStreamServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** Its client port. */
  readonly port: number;
  /** SIGTERMs it, waits for it, removes its storage. */
  stop(): Promise<void>;
}

/** A free loopback port (closed again: the server binds it next). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts `nats-server -js` and resolves once it accepts connections. */
export async function startJetStream(): Promise<JetStreamServer> {
  const dir = await Deno.makeTempDir({ prefix: "arqon-js-" });
  const port = freePort();
  const child = new Deno.Command("nats-server", {
    args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      // The INFO line: the server is up.
      const buf = new Uint8Array(512);
      await conn.read(buf);
      conn.close();
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        await child.status;
        throw new Error(`nats-server did not start on ${port}: ${e}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
