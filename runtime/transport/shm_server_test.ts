import assert from "node:assert/strict";
import client from "prom-client";
import type { Transport } from "./transport.ts";
import { ShmServer } from "./shm_server.ts";
import { ShmClient } from "./shm_client.ts";
import { NativeMetrics } from "./metrics.ts";

const uniq = (tag: string) => `arqon-t-${tag}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;

/** A session that answers every frame with the same bytes, as the node would reply. */
function echoSessions() {
  const log = { opened: 0, closed: 0, transports: [] as Transport[] };
  const attach = (t: Transport) => {
    log.opened++;
    log.transports.push(t);
    return {
      receive: (f: Uint8Array | string) => t.send(f),
      closed: () => log.closed++,
    };
  };
  return { log, attach };
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

Deno.test("shm server: two clients echo 50k frames each in order with matching checksums", async () => {
  const name = uniq("echo");
  const { log, attach } = echoSessions();
  const registry = new client.Registry();
  const metrics = new NativeMetrics(registry);
  const server = new ShmServer(name, attach, { slots: 4, ringBytes: 1 << 16, metrics });
  const total = 50_000;
  const run = async (seed: number) => {
    const c = ShmClient.connect(name);
    const got: number[] = [];
    let checksum = 0;
    c.onFrame = (f) => {
      const v = new DataView(f.buffer, f.byteOffset);
      got.push(v.getUint32(0, true));
      checksum = (checksum + v.getUint32(4, true)) >>> 0;
    };
    let expect = 0;
    for (let i = 0; i < total; i++) {
      const f = new Uint8Array(64);
      const v = new DataView(f.buffer);
      v.setUint32(0, i, true);
      v.setUint32(4, (i * 2654435761 + seed) >>> 0, true);
      expect = (expect + v.getUint32(4, true)) >>> 0;
      c.send(f);
      if (i % 512 === 511) await new Promise((r) => setTimeout(r, 0));
    }
    await until(() => got.length >= total, `client ${seed} echoes`);
    assert.equal(got.length, total);
    for (let i = 0; i < total; i++) {
      if (got[i] !== i) assert.fail(`frame ${i} arrived as ${got[i]}`);
    }
    assert.equal(checksum, expect);
    const s = c.stats();
    assert.equal(s.framesSent, total);
    assert.equal(s.framesReceived, total);
    await c.close();
  };
  try {
    await Promise.all([run(1), run(2)]);
    assert.equal(log.opened, 2);
    await until(() => log.closed === 2, "sessions to see the clients close");
    assert.equal(server.connections, 0);
    const text = await registry.metrics();
    assert.match(text, /arqon_native_frames_total\{backend="shm",direction="rx"\} 100000/);
    assert.match(text, /arqon_native_frames_total\{backend="shm",direction="tx"\} 100000/);
    assert.match(text, /arqon_native_batch_frames_count\{backend="shm",direction="rx"\} \d+/);
    assert.match(text, /arqon_native_overruns_total\{backend="shm"\} \d+/);
  } finally {
    await server.close();
  }
});

Deno.test("shm server: node-side close ends the client; server close ends sessions", async () => {
  const name = uniq("close");
  const { log, attach } = echoSessions();
  const server = new ShmServer(name, attach, { slots: 2, ringBytes: 1 << 14 });
  try {
    const a = ShmClient.connect(name);
    const b = ShmClient.connect(name);
    const got: number[] = [];
    a.onFrame = (f) => got.push(f[0]);
    a.send(new Uint8Array([7]));
    await until(() => got.length === 1 && log.transports.length === 2, "echo and both accepts");
    assert.equal(log.transports[0].kind, "shm");
    assert.match(log.transports[0].remote, new RegExp(`shm:${name}`));
    // The node closes `a`'s transport (as Session.close does): frames sent first still arrive.
    const ta = log.transports[0];
    ta.send(new Uint8Array([8]));
    ta.close(1000, "bye");
    await a.closed;
    assert.deepStrictEqual(got, [7, 8]);
    assert.equal(server.connections, 1);
    await server.close();
    assert.equal(log.closed, 1, "server.close ends the remaining session");
    await b.closed;
  } finally {
    await server.close();
  }
});

Deno.test("shm client: a throwing onFrame ends the connection with its error", async () => {
  const name = uniq("throw");
  const { log, attach } = echoSessions();
  const server = new ShmServer(name, attach, { slots: 1, ringBytes: 1 << 14 });
  try {
    const c = ShmClient.connect(name);
    c.onFrame = () => {
      throw new Error("consumer bug");
    };
    c.send(new Uint8Array([1]));
    await c.closed;
    assert.match(String(c.error), /consumer bug/);
    await until(() => log.closed === 1, "the node to see the connection end");
  } finally {
    await server.close();
  }
});

Deno.test("shm server: a reply larger than the ring can carry drops that client only", async () => {
  const name = uniq("big");
  let closed = 0;
  const server = new ShmServer(name, (t) => ({
    receive: (f) => t.send(f[0] === 1 ? new Uint8Array(5000) : f),
    closed: () => closed++,
  }), { slots: 2, ringBytes: 4096 });
  try {
    const bad = ShmClient.connect(name);
    const good = ShmClient.connect(name);
    const got: number[] = [];
    good.onFrame = (f) => got.push(f[0]);
    bad.send(new Uint8Array([1]));
    await bad.closed;
    good.send(new Uint8Array([2]));
    await until(() => got.length === 1, "the other client's echo");
    assert.deepStrictEqual(got, [2]);
    assert.equal(closed, 1);
    assert.equal(server.connections, 1);
    await good.close();
  } finally {
    await server.close();
  }
});
