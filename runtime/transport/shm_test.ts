import assert from "node:assert/strict";
import { ShmEndpoint, ShmListener } from "./shm.ts";
import { NativeError } from "./native_lib.ts";

const uniq = (tag: string) => `arqon-t-${tag}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;

function frameOf(i: number, len: number): Uint8Array {
  const f = new Uint8Array(len);
  new DataView(f.buffer).setUint32(0, i, true);
  for (let k = 4; k < len; k++) f[k] = (i * 7 + k) & 0xff;
  return f;
}

Deno.test("shm: frames cross both rings in order through wrap-around and full rings", () => {
  const name = uniq("order");
  const listener = new ShmListener(name, { slots: 2, ringBytes: 8192 });
  const client = ShmEndpoint.connect(name);
  const server = listener.accept();
  assert.ok(server);
  assert.equal(server.peerPid, Deno.pid);
  try {
    const total = 20_000;
    let sent = 0;
    let next = 0;
    let sum = 0;
    while (next < total) {
      while (sent < total && client.enqueue(frameOf(sent, 4 + (sent % 300)))) sent++;
      client.flush();
      server.receive((f) => {
        const i = new DataView(f.buffer, f.byteOffset).getUint32(0, true);
        assert.equal(i, next);
        assert.equal(f.length, 4 + (i % 300));
        assert.deepStrictEqual(f, frameOf(i, f.length));
        sum += i;
        next++;
      });
    }
    assert.equal(sum, (total * (total - 1)) / 2);
    const cs = client.stats();
    const ss = server.stats();
    assert.equal(cs.framesSent, total);
    assert.equal(ss.framesReceived, total);
    assert.equal(cs.capacity, 8192);
    assert.ok(cs.overruns > 0, "an 8 KiB ring must fill up under 20k frames");
    assert.ok(ss.recvBatches < total, "receives are batched");
    // The reverse direction.
    server.enqueue(frameOf(42, 16));
    server.flush();
    const back: number[] = [];
    assert.equal(client.receive((f) => back.push(f[0])), 1);
    assert.deepStrictEqual(back, [42]);
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

Deno.test("shm: close drains first, then reports closed; the slot is reusable", async () => {
  const name = uniq("close");
  const listener = new ShmListener(name, { slots: 1, ringBytes: 4096 });
  try {
    const client = ShmEndpoint.connect(name);
    assert.throws(() => ShmEndpoint.connect(name), /slots are taken/);
    const server = listener.accept()!;
    client.enqueue(new Uint8Array([1, 2, 3]));
    client.flush();
    client.close();
    assert.equal(await server.wait(1_000_000), 1);
    const got: number[][] = [];
    assert.equal(server.receive((f) => got.push([...f])), 1);
    assert.deepStrictEqual(got, [[1, 2, 3]]);
    assert.equal(server.receive(() => {}), -1);
    assert.equal(server.alive(), false);
    assert.throws(() => {
      server.enqueue(new Uint8Array(1));
      server.flush();
    }, (e: Error & { nativeCode?: number }) => e.nativeCode === NativeError.CLOSED);
    server.close();
    const again = ShmEndpoint.connect(name);
    const s2 = listener.accept()!;
    assert.equal(s2.receive(() => {}), 0, "a reused slot starts empty");
    again.close();
    s2.close();
  } finally {
    listener.close();
  }
});

Deno.test("shm: oversized frames are refused, unknown and malformed names fail clearly", () => {
  const name = uniq("limits");
  const listener = new ShmListener(name, { slots: 1, ringBytes: 4096 });
  try {
    const client = ShmEndpoint.connect(name);
    assert.equal(client.maxFrame, 4096 / 2 - 8);
    assert.throws(() => client.enqueue(new Uint8Array(client.maxFrame + 1)), /exceeds/);
    client.close();
    assert.throws(() => ShmEndpoint.connect(uniq("absent")), /No such file/);
    assert.throws(() => new ShmListener("bad/name"), /invalid argument/);
  } finally {
    listener.close();
  }
});

Deno.test("shm: frames larger than one 64 KB batch still go through whole", () => {
  const name = uniq("large");
  const listener = new ShmListener(name, { slots: 1, ringBytes: 1 << 20 });
  const client = ShmEndpoint.connect(name);
  const server = listener.accept()!;
  try {
    const big = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 13) & 0xff);
    assert.equal(client.enqueue(new Uint8Array([1])), true);
    let queued = 0;
    while (client.enqueue(big)) queued++;
    assert.equal(queued, 3, "three 300 KB frames fill a 1 MiB ring");
    client.flush();
    const got: Uint8Array[] = [];
    while (got.length < 4) server.receive((f) => got.push(f.slice()));
    assert.deepStrictEqual(got, [new Uint8Array([1]), big, big, big]);
    assert.equal(client.enqueue(big), true, "room again after the server drained");
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});
