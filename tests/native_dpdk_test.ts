/**
 * DPDK through Deno FFI, in child processes (EAL starts once per process): `net_ring`
 * loopback in one process and `net_memif` between two, without hugepages or PCI
 * (`--no-huge --no-pci --no-shconf --file-prefix=<unique>`). Checks order, counts and
 * checksums. Skipped only where DPDK was absent at build time.
 */
import assert from "node:assert/strict";
import { dpdkAvailable } from "../runtime/transport/dpdk.ts";

const peer = new URL("../runtime/transport/testdata/dpdk_peer.ts", import.meta.url).pathname;
const COUNT = 20_000;
const checksum = () => {
  let sum = 0;
  for (let i = 0; i < COUNT; i++) sum = (sum + Math.imul(i, 2654435761)) >>> 0;
  return sum;
};

function spawn(args: string[], stdin: "piped" | "null" = "null") {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", peer, ...args],
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

Deno.test({
  name: "dpdk: net_ring loopback through Deno FFI keeps order and counts",
  ignore: !dpdkAvailable(),
  fn: async () => {
    const child = spawn(["ring", "-", `${COUNT}`]);
    const [out, err, status] = await Promise.all([
      text(child.stdout),
      text(child.stderr),
      child.status,
    ]);
    assert.equal(status.code, 0, `peer failed:\n${out}${err}`);
    assert.match(out, new RegExp(`received=${COUNT} checksum=${checksum()} lost=0`));
  },
});

Deno.test({
  name: "dpdk: net_memif carries frames between two processes in order",
  ignore: !dpdkAvailable(),
  fn: async () => {
    const socket = `arqon-memif-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    const server = spawn(["server", socket, `${COUNT}`], "piped");
    const serverOut = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let sout = "";
    while (!sout.includes("port ready\n")) {
      const { value, done } = await serverOut.read();
      if (done) break;
      sout += value;
    }
    assert.match(sout, /port ready/, `server did not start:\n${sout}`);
    const client = spawn(["client", socket, `${COUNT}`]);
    try {
      const [out, err, status] = await Promise.all([
        text(client.stdout),
        text(client.stderr),
        client.status,
      ]);
      assert.equal(status.code, 0, `client failed:\n${out}${err}`);
      assert.match(out, new RegExp(`received=${COUNT} checksum=${checksum()} lost=0`));
      await server.stdin.close();
      const rest = (async () => {
        for (let r = await serverOut.read(); !r.done; r = await serverOut.read()) sout += r.value;
      })();
      const [serr, sstatus] = await Promise.all([text(server.stderr), server.status, rest]);
      assert.equal(sstatus.code, 0, `server failed:\n${sout}${serr}`);
      assert.match(sout, new RegExp(`sent=${COUNT}`));
    } finally {
      for (const c of [server, client]) {
        try {
          c.kill("SIGKILL");
        } catch { /* exited */ }
      }
      await Promise.allSettled([server.status, client.status]);
      await Deno.remove(`/tmp/${socket}.sock`).catch(() => {});
    }
  },
});
