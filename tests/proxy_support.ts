/**
 * Support of the proxy's end-to-end tests: the proxy as a child process started the way
 * users start it (`deno run -A scripts/proxy.ts ...`), a real HTTP upstream recording
 * what it receives, and a bus client that is not our SDK (raw protobuf frames over the
 * runtime's WebSocket).
 * @module
 */
import { F, num, pb, type PbField, type PbMessage, str, unpb } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";

const ROOT = new URL("../", import.meta.url);
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A proxy child process. */
export class ProxyChild {
  /** `http://host:port` of its listener ("" without --listen). */
  readonly listenUrl: string;
  readonly #child: Deno.ChildProcess;
  readonly #stderr: Promise<string>;

  private constructor(child: Deno.ChildProcess, listenUrl: string, stderr: Promise<string>) {
    this.#child = child;
    this.listenUrl = listenUrl;
    this.#stderr = stderr;
  }

  /** Starts `scripts/proxy.ts` with `args`; resolves at its ready line. */
  static async start(args: string[]): Promise<ProxyChild> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/proxy.ts", ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    while (!seen.includes("proxy ready")) {
      const { value, done } = await reader.read();
      if (done) {
        clearTimeout(timer);
        await child.status;
        throw new Error(`proxy exited before ready:\n${seen}\n${await stderr}`);
      }
      seen += value;
    }
    clearTimeout(timer);
    (async () => {
      while (!(await reader.read()).done) { /* drain */ }
    })();
    return new ProxyChild(child, seen.match(/\(listen (\S+)\)/)?.[1] ?? "", stderr);
  }

  /** Runs the proxy command to its end (for refused command lines). */
  static async run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/proxy.ts", ...args],
      cwd: ROOT,
      stdin: "null",
    }).output();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  }

  /** A sample of its `/metrics` (0 when absent). */
  async metric(name: string, labels = ""): Promise<number> {
    const text = await (await fetch(`${this.listenUrl}/metrics`)).text();
    let total = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith("#") || !line.startsWith(name)) continue;
      const [key, value] = line.split(" ");
      const bare = key.includes("{") ? key.slice(0, key.indexOf("{")) : key;
      if (bare === name && (!labels || key.includes(labels))) total += Number(value);
    }
    return total;
  }

  /** SIGTERM, wait; returns what it wrote on stderr. */
  async stop(): Promise<string> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 3000);
    await this.#child.status;
    clearTimeout(timer);
    return await this.#stderr;
  }
}

/** What the upstream saw of one request. */
export interface Seen {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * A real HTTP upstream (`Deno.serve`). Paths: `/fail` 500, `/hang` never answers (until
 * the upstream stops), `/slow` answers after 150 ms, `/held` once
 * `releaseHeld()` is called, `/big?n=` a body of n bytes, `/empty`
 * 204, `/len` the body's length; anything else echoes what it saw as JSON with `x-upstream: <name>`.
 */
export class Upstream {
  /** Requests seen, in order. */
  readonly seen: Seen[] = [];
  readonly name: string;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #release = Promise.withResolvers<void>();
  #held = Promise.withResolvers<void>();

  /** Lets every `/held` request (now and later) answer. */
  releaseHeld(): void {
    this.#held.resolve();
  }

  constructor(name = "up", port = 0) {
    this.name = name;
    this.#server = this.#serve(port);
  }

  /** Its base URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Its port. */
  get port(): number {
    return this.#server.addr.port;
  }

  #serve(port: number): Deno.HttpServer<Deno.NetAddr> {
    return Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
      const url = new URL(req.url);
      const body = await req.text();
      this.seen.push({
        method: req.method,
        path: url.pathname,
        query: url.search.slice(1),
        headers: Object.fromEntries(req.headers),
        body,
      });
      switch (url.pathname) {
        case "/fail":
          return new Response("boom", { status: 500, headers: { "x-upstream": this.name } });
        case "/hang":
          await this.#release.promise;
          return new Response("late");
        case "/held":
          await this.#held.promise;
          return new Response("held");
        case "/slow":
          await new Promise((r) => setTimeout(r, 150));
          return new Response("slow");
        case "/big":
          return new Response(new Uint8Array(Number(url.searchParams.get("n"))));
        case "/len":
          return new Response(String(body.length));
        case "/empty":
          return new Response(null, { status: 204, headers: { "x-upstream": this.name } });
      }
      return Response.json(this.seen.at(-1), {
        status: url.searchParams.has("created") ? 201 : 200,
        headers: { "x-upstream": this.name },
      });
    });
  }

  /** Stops serving (held requests are released first). */
  async stop(): Promise<void> {
    this.#release.resolve();
    this.#held.resolve();
    await this.#server.shutdown();
  }

  /** Serves again on the same port. */
  restart(): void {
    this.#release = Promise.withResolvers<void>();
    this.#server = this.#serve(this.port);
  }
}

/** A reply as a raw client reads it. */
export interface RawReply {
  headers: Record<string, string>;
  contentType: string;
  payload: Uint8Array;
  /** The payload as text. */
  text: string;
}

/** A bus client speaking raw protobuf frames (not our SDK). */
export class RawBus {
  readonly socket: RawSocket;
  #next = 1;

  private constructor(socket: RawSocket) {
    this.socket = socket;
  }

  /** Connects and completes the hello (with a bearer token when given). */
  static async connect(wsUrl: string, token = ""): Promise<RawBus> {
    const socket = await RawSocket.open(wsUrl, "arqon.v1.proto");
    const hello: PbField[] = [[1, "raw-test"], [2, 1]];
    if (token) hello.push([4, token]);
    socket.send(pb([[F.hello, hello]]));
    await socket.wait(F.welcome);
    return new RawBus(socket);
  }

  /**
   * Sends a request and waits for its reply; rejects with `CODE: message` when the node
   * answers with an error frame.
   */
  async request(
    topic: string,
    options: {
      reality?: string;
      headers?: Record<string, string>;
      contentType?: string;
      payload?: string | Uint8Array;
      timeoutMs?: number;
    } = {},
  ): Promise<RawReply> {
    const correlation = this.#next++;
    const pulse: PbField[] = [[3, topic]];
    if (options.reality) pulse.push([5, options.reality]);
    for (const [k, v] of Object.entries(options.headers ?? {})) pulse.push([9, [[1, k], [2, v]]]);
    if (options.contentType) pulse.push([10, options.contentType]);
    if (options.payload !== undefined) {
      pulse.push([
        11,
        typeof options.payload === "string" ? enc.encode(options.payload) : options.payload,
      ]);
    }
    this.socket.send(
      pb([[F.request, [[1, correlation], [2, pulse], [3, options.timeoutMs ?? 10_000]]]]),
    );
    const mine = (m: PbMessage) => num(m, 1) === correlation;
    const errorMine = (m: PbMessage) => num(m, 3) === correlation;
    await this.socket.until(
      () => this.socket.of(F.reply).some(mine) || this.socket.of(F.error).some(errorMine),
      `reply ${correlation}`,
      (options.timeoutMs ?? 10_000) + 5000,
    );
    const error = this.socket.of(F.error).find(errorMine);
    if (error) throw new Error(`code ${num(error, 1)}: ${str(error, 2)}`);
    const reply = this.socket.of(F.reply).find(mine)!;
    const p = unpb(reply.get(2)![0] as Uint8Array);
    const headers: Record<string, string> = {};
    for (const entry of p.get(9) ?? []) {
      const e = unpb(entry as Uint8Array);
      headers[str(e, 1)] = str(e, 2);
    }
    const payload = (p.get(11)?.[0] as Uint8Array) ?? new Uint8Array(0);
    return { headers, contentType: str(p, 10), payload, text: dec.decode(payload) };
  }

  /** Closes the socket. */
  close(): Promise<void> {
    return this.socket.close();
  }
}
