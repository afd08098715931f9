/**
 * End to end over shared memory: a node started with `shm` (the `--shm <name>` flag), a C
 * program through the C ABI and a second Deno process through `ShmClient` publish to each
 * other with the same protobuf frames WebSocket clients use, while a WebSocket client
 * watches both streams. Checks order, counts and checksums on every side.
 */
import assert from "node:assert/strict";
import { ArqonClient, parseConfig, startNode } from "../mod.ts";

const COUNT = 20_000;
const SEED_C = 0xc0ffee;
const SEED_DENO = 0xde70;
const mix = (i: number, s: number) => (Math.imul(i, 2654435761) + s) >>> 0;
const expectedChecksum = (seed: number) => {
  let sum = 0;
  for (let i = 0; i < COUNT; i++) sum = (sum + mix(i, seed)) >>> 0;
  return sum;
};

/** A child process with line-oriented stdout. */
class Peer {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  #waiters: (() => void)[] = [];
  readonly done: Promise<void>;

  constructor(cmd: string, args: string[]) {
    const child = new Deno.Command(cmd, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    })
      .spawn();
    this.child = child;
    this.done = (async () => {
      let buf = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          this.lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          for (const w of this.#waiters.splice(0)) w();
        }
      }
      for (const w of this.#waiters.splice(0)) w();
    })();
  }

  async line(match: RegExp, what: string): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const hit = this.lines.find((l) => match.test(l));
      if (hit) return hit;
      const bad = this.lines.find((l) => /^(fail|timeout)/.test(l));
      if (bad) throw new Error(`${what}: ${bad}`);
      if (Date.now() > deadline) throw new Error(`${what}: no line matching ${match}`);
      await Promise.race([
        new Promise<void>((r) => this.#waiters.push(r)),
        new Promise((r) => setTimeout(r, 100)),
      ]);
    }
  }

  async go(): Promise<void> {
    const w = this.child.stdin.getWriter();
    await w.write(new TextEncoder().encode("go\n"));
    await w.close();
  }
}

Deno.test("the --shm flags configure the node's shared-memory listener", () => {
  const parsed = parseConfig([
    "--shm",
    "arqon-demo",
    "--shm-slots",
    "4",
    "--shm-ring-bytes",
    "65536",
  ]);
  assert.equal(parsed.help, false);
  if (!parsed.help) {
    assert.equal(parsed.config.shm, "arqon-demo");
    assert.equal(parsed.config.shmSlots, 4);
    assert.equal(parsed.config.shmRingBytes, 65536);
  }
});

Deno.test("shm e2e: C and Deno processes publish and subscribe through the node", async () => {
  const name = `arqon-e2e-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const node = await startNode({
    port: 0,
    shm: name,
    shmSlots: 4,
    shmRingBytes: 1 << 20,
    log: "quiet",
  });
  const watcher = await ArqonClient.connect(node.wsUrl, { name: "watcher", reconnect: false });
  const peers: Peer[] = [];
  try {
    const watch = watcher.subscribe("e2e.>");
    await watch.ready;
    const seen = { c: 0, deno: 0, sumC: 0, sumDeno: 0, lastSeq: 0 };
    const watching = (async () => {
      for await (const p of watch) {
        const v = new DataView(p.payload!.buffer, p.payload!.byteOffset, 8);
        const idx = v.getUint32(0, true);
        const seq = Number(p.sequence);
        assert.ok(seq > seen.lastSeq, "node sequences strictly increase");
        seen.lastSeq = seq;
        if (p.topic === "e2e.from_c") {
          assert.equal(idx, seen.c++, "C pulses arrive in publish order");
          seen.sumC = (seen.sumC + v.getUint32(4, true)) >>> 0;
        } else {
          assert.equal(p.topic, "e2e.from_deno");
          assert.equal(idx, seen.deno++, "Deno pulses arrive in publish order");
          seen.sumDeno = (seen.sumDeno + v.getUint32(4, true)) >>> 0;
        }
        if (seen.c === COUNT && seen.deno === COUNT) break;
      }
    })();

    const cBin = new URL("../native/c/build/shm_pubsub", import.meta.url).pathname;
    const denoPeer = new URL("../runtime/transport/testdata/shm_peer.ts", import.meta.url).pathname;
    const c = new Peer(cBin, [
      name,
      "e2e.from_deno",
      "e2e.from_c",
      `${COUNT}`,
      `${SEED_C}`,
      `${SEED_DENO}`,
    ]);
    const d = new Peer(Deno.execPath(), [
      "run",
      "-A",
      denoPeer,
      name,
      "e2e.from_c",
      "e2e.from_deno",
      `${COUNT}`,
      `${SEED_DENO}`,
      `${SEED_C}`,
    ]);
    peers.push(c, d);
    await c.line(/^ready$/, "C peer");
    await d.line(/^ready$/, "Deno peer");
    await Promise.all([c.go(), d.go()]);

    const cDone = await c.line(/^done /, "C peer");
    const dDone = await d.line(/^done /, "Deno peer");
    assert.equal(
      cDone,
      `done sent=${COUNT} received=${COUNT} checksum=${expectedChecksum(SEED_DENO)}`,
    );
    assert.equal(
      dDone,
      `done sent=${COUNT} received=${COUNT} checksum=${expectedChecksum(SEED_C)}`,
    );
    assert.equal((await c.child.status).code, 0);
    assert.equal((await d.child.status).code, 0);
    await watching;
    assert.equal(seen.sumC, expectedChecksum(SEED_C));
    assert.equal(seen.sumDeno, expectedChecksum(SEED_DENO));

    const metrics = await node.metrics.registry.metrics();
    const rx = metrics.match(/arqon_native_frames_total\{backend="shm",direction="rx"\} (\d+)/);
    assert.ok(rx && Number(rx[1]) >= 2 * COUNT + 2, "node counted every shm frame it read");
    assert.match(metrics, /arqon_native_overruns_total\{backend="shm"\} \d+/);
    assert.match(metrics, /arqon_native_batch_frames_count\{backend="shm",direction="tx"\} \d+/);
  } finally {
    for (const p of peers) {
      try {
        p.child.kill("SIGKILL");
      } catch { /* already exited */ }
      await p.child.status;
      await p.done;
    }
    await watcher.close();
    await node.shutdown();
  }
});
