/**
 * Real `nats-server` processes (Debian's) for the cluster tests and benchmark: one server,
 * or a JetStream cluster of several on loopback ports (routes between them), each with its
 * own store directory, and the means to kill, stop and restart one. Every process is ended
 * by `close()`.
 * @module
 */

/** One nats-server process of a harness. */
export class NatsServer {
  #child: Deno.ChildProcess | null = null;
  #exited: Promise<Deno.CommandStatus> | null = null;

  constructor(
    /** Its name inside the NATS cluster (`s1`, `s2`, ...). */
    readonly name: string,
    /** The client port. */
    readonly port: number,
    /** The monitoring (HTTP) port: `/healthz`, `/jsz`. */
    readonly httpPort: number,
    /** Its configuration file. */
    readonly configFile: string,
  ) {}

  /** The client URL, `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** The process id while it runs (a benchmark reads its CPU time), else null. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Whether the process runs. */
  get running(): boolean {
    return this.#child !== null;
  }

  /** Starts the process (again, with the same store directory). */
  start(): void {
    if (this.#child) return;
    this.#child = new Deno.Command("nats-server", {
      args: ["-c", this.configFile],
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).spawn();
    this.#exited = this.#child.status;
  }

  /** Ends the process with `signal` (SIGKILL: no goodbye) and waits for it. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    await this.#exited;
  }

  /** Whether JetStream on this server answers healthy (`/healthz`). */
  async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.httpPort}/healthz`);
      const body = await res.text();
      return res.ok && body.includes("ok");
    } catch {
      return false;
    }
  }
}

/** A set of nats-server processes forming one JetStream cluster (or one lone server). */
export class NatsCluster {
  private constructor(readonly servers: readonly NatsServer[], readonly dir: string) {}

  /**
   * Starts `size` servers with JetStream on loopback ports; with 2 or more they form a
   * NATS cluster with routes to each other. Resolves once every one is healthy.
   */
  static async start(size = 1): Promise<NatsCluster> {
    const dir = await Deno.makeTempDir({ prefix: "arqon_nats_" });
    const ports = await freePorts(size * 3);
    const servers: NatsServer[] = [];
    const routes = Array.from(
      { length: size },
      (_, i) => `nats-route://127.0.0.1:${ports[i * 3 + 2]}`,
    );
    for (let i = 0; i < size; i++) {
      const name = `s${i + 1}`;
      const [port, httpPort, routePort] = ports.slice(i * 3, i * 3 + 3);
      const lines = [
        `server_name: ${name}`,
        `listen: "127.0.0.1:${port}"`,
        `http: "127.0.0.1:${httpPort}"`,
        `jetstream { store_dir: "${dir}/${name}", max_memory_store: 512MB, max_file_store: 2GB }`,
      ];
      if (size > 1) {
        lines.push(
          `cluster { name: arqon, listen: "127.0.0.1:${routePort}", routes: [${
            routes.filter((_, j) => j !== i).join(", ")
          }] }`,
        );
      }
      const configFile = `${dir}/${name}.conf`;
      await Deno.writeTextFile(configFile, lines.join("\n") + "\n");
      servers.push(new NatsServer(name, port, httpPort, configFile));
    }
    const cluster = new NatsCluster(servers, dir);
    for (const s of servers) s.start();
    try {
      await cluster.waitHealthy();
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** Every server's client URL, comma-separated, as `--cluster` takes them. */
  get urls(): string {
    return this.servers.map((s) => s.url).join(",");
  }

  /** Waits until every running server reports JetStream healthy. */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const s of this.servers) {
      while (s.running && !(await s.healthy())) {
        if (Date.now() > deadline) throw new Error(`nats-server ${s.name} not healthy`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Ends every process and removes the store directories. */
  async close(): Promise<void> {
    for (const s of this.servers) await s.kill();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** `n` distinct free loopback TCP ports (bound and released: a tiny race, fine in tests). */
export async function freePorts(n: number): Promise<number[]> {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  await Promise.resolve();
  return ports;
}
