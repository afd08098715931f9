/**
 * Memory per idle WebSocket connection: starts a node as a child process, opens N raw
 * WebSocket connections that say hello from a separate client process, and reads the
 * node's RSS (`/proc/<pid>/status` VmRSS) before and after.
 *
 *   deno run -A bench/idle_connections.ts [--connections 10000] [--ws-engine arqon|deno]
 *
 * The client and the node each need N open files (`ulimit -n`).
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url);
const enc = new TextEncoder();

function rssOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A masked client frame carrying a hello (protobuf `Frame{hello{client_name, version 1}}`). */
function helloFrame(name: string): Uint8Array {
  const nameBytes = enc.encode(name);
  const hello = [0x0a, nameBytes.length, ...nameBytes, 0x10, 0x01];
  const frame = [0x0a, hello.length, ...hello];
  const out = new Uint8Array(6 + frame.length);
  out[0] = 0x82;
  out[1] = 0x80 | frame.length;
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, 2);
  for (let i = 0; i < frame.length; i++) out[6 + i] = frame[i] ^ mask[i & 3];
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length) bytes = bytes.subarray(await conn.write(bytes));
}

/** The client process: opens `n` connections, says hello on each, then holds them. */
async function client(port: number, n: number, concurrency: number): Promise<void> {
  const conns: Deno.Conn[] = [];
  const upgrade = enc.encode(
    `GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: arqon.v1.proto\r\n\r\n",
  );
  let next = 0;
  let failed = 0;
  const open = async () => {
    const buf = new Uint8Array(4096);
    while (next < n) {
      const i = next++;
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await writeAll(conn, upgrade);
        await writeAll(conn, helloFrame(`idle-${i}`));
        // The 101 and the Welcome: read until the welcome frame's bytes arrived.
        let got = "";
        while (!/\r\n\r\n[\s\S]{8,}/.test(got)) {
          const r = await conn.read(buf);
          if (r === null) throw new Error("closed");
          got += new TextDecoder("latin1").decode(buf.subarray(0, r));
        }
        if (!got.startsWith("HTTP/1.1 101")) throw new Error(got.split("\r\n")[0]);
        conns.push(conn);
      } catch (err) {
        if (failed++ === 0) console.error(`connection ${i} failed: ${err}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, open));
  console.log(`client: ${conns.length} connections held, ${failed} failed`);
  // Hold them until the parent closes stdin.
  for await (const _ of Deno.stdin.readable) { /* wait */ }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      connections: { type: "string", default: "10000" },
      concurrency: { type: "string", default: "100" },
      "ws-engine": { type: "string", default: "arqon" },
      client: { type: "string" },
    },
  });
  const n = Number(values.connections);
  if (values.client) return await client(Number(values.client), n, Number(values.concurrency));

  const node = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", "--port", "0", "--memory", "--ws-engine", values["ws-engine"]!],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = node.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let port = 0;
  while (!port) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`node exited:\n${seen}`);
    seen += value;
    const m = seen.match(/ready on http:\/\/127\.0\.0\.1:(\d+)/);
    if (m) port = Number(m[1]);
  }
  const draining = (async () => {
    while (!(await lines.read()).done) { /* drain */ }
  })();
  console.log(seen.trim());
  await sleep(2000);
  const before = rssOf(node.pid);
  const started = performance.now();
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--client",
      String(port),
      "--connections",
      String(n),
      "--concurrency",
      values.concurrency!,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  while (!said.includes("held")) {
    const { value, done } = await out.read();
    if (done) break;
    said += value;
  }
  console.log(said.trim(), `in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await sleep(3000);
  const after = rssOf(node.pid);
  const held = Number(/(\d+) connections held/.exec(said)?.[1] ?? 0);
  console.log(
    `node RSS: ${mb(before)} before, ${mb(after)} with ${held} idle connections ` +
      `(+${mb(after - before)}; ${((after - before) / held / 1024).toFixed(1)} KB each, ` +
      `${mb(((after - before) / held) * 10_000)} per 10,000)`,
  );
  await holder.stdin.close();
  await holder.status;
  node.kill("SIGTERM");
  await node.status;
  await draining;
}

if (import.meta.main) await main();
