/**
 * Shared memory across real processes: a client process that dies without closing is
 * noticed (its session ends, its slot is reused), and a name held by a live process is
 * refused to a second server.
 */
import assert from "node:assert/strict";
import { ShmListener } from "../runtime/transport/shm.ts";
import { ShmServer } from "../runtime/transport/shm_server.ts";
import { ShmClient } from "../runtime/transport/shm_client.ts";

const uniq = (tag: string) => `arqon-p-${tag}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
// Children import the carrier modules directly (no npm packages to resolve at start-up).
const clientModule = new URL("../runtime/transport/shm_client.ts", import.meta.url).href;
const shmModule = new URL("../runtime/transport/shm.ts", import.meta.url).href;

function child(code: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function firstLine(p: Deno.ChildProcess): Promise<string> {
  const reader = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
  }
  reader.releaseLock();
  return buf.trim();
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("shm: a client process killed mid-session is reaped and its slot reused", async () => {
  const name = uniq("crash");
  let opened = 0;
  let closed = 0;
  const server = new ShmServer(name, (t) => {
    opened++;
    return { receive: (f) => t.send(f), closed: () => closed++ };
  }, { slots: 1, ringBytes: 1 << 16, livenessMs: 50 });
  const p = child(`
    import { ShmClient } from "${clientModule}";
    const c = ShmClient.connect("${name}");
    c.onFrame = () => console.log("echoed");
    c.send(new Uint8Array([1]));
    setInterval(() => {}, 1000);
  `);
  try {
    assert.equal(await firstLine(p), "echoed");
    assert.equal(opened, 1);
    p.kill("SIGKILL");
    await p.status;
    await until(() => closed === 1, "the dead client's session to close");
    // The only slot is free again: a new client gets through and is echoed.
    const c = ShmClient.connect(name);
    const got: number[] = [];
    c.onFrame = (f) => got.push(f[0]);
    c.send(new Uint8Array([2]));
    await until(() => got.length === 1, "echo on the reused slot");
    assert.deepStrictEqual(got, [2]);
    await c.close();
  } finally {
    try {
      p.kill("SIGKILL");
    } catch { /* exited */ }
    await p.status;
    await p.stdout.cancel().catch(() => {});
    await server.close();
  }
});

Deno.test("shm: a name held by a live process is refused; a dead owner's name is taken over", async () => {
  const name = uniq("owner");
  const p = child(`
    import { ShmListener } from "${shmModule}";
    const l = new ShmListener("${name}", { slots: 1, ringBytes: 1 << 16 });
    console.log("listening");
    // A timer keeps the event loop (and so the process) alive until the test kills it.
    setInterval(() => {}, 1000);
  `);
  try {
    assert.equal(await firstLine(p), "listening");
    assert.throws(
      () => new ShmListener(name, { slots: 1, ringBytes: 1 << 16 }),
      (e: Error) => e.message.includes(`in use by live process ${p.pid}`) || assert.fail(e.message),
    );
    p.kill("SIGKILL");
    await p.status;
    // The killed owner never unlinked the file; a new server takes the name over.
    const l = new ShmListener(name, { slots: 1, ringBytes: 1 << 16 });
    const c = ShmClient.connect(name);
    const accepted = l.accept();
    assert.ok(accepted, "the new owner accepts connections");
    await c.close();
    accepted.close();
    l.close();
  } finally {
    try {
      p.kill("SIGKILL");
    } catch { /* exited */ }
    await p.status;
    await p.stdout.cancel().catch(() => {});
  }
});
