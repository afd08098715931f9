/**
 * A DPDK peer for the tests, driven through Deno FFI:
 *
 *   deno run -A dpdk_peer.ts <server|client> <socket-name> <count>   (net_memif, 2 processes)
 *   deno run -A dpdk_peer.ts ring - <count>                          (net_ring loopback)
 *
 * The sender sends <count> 64-byte frames ([u32 index][u32 index*2654435761] + padding);
 * the receiver checks their order and prints `received=<n> checksum=<sum> lost=<gaps>`.
 * @module
 */
import { DpdkEal, DpdkPort, testEalArgs } from "../dpdk.ts";

const [role, socket, countArg] = Deno.args;
const count = Number(countArg);
const mix = (i: number) => Math.imul(i, 2654435761) >>> 0;
const ring = role === "ring";
const vdev = ring
  ? "net_ring0"
  : `net_memif0,role=${role},socket=/tmp/${socket}.sock,socket-abstract=no,id=0`;
const eal = DpdkEal.start(testEalArgs(`arqon-dpdk-${role}-${Deno.pid}`, [vdev]));
const port = new DpdkPort(ring ? "net_ring0" : "net_memif0", 1024);
// A memif client only connects to a server socket that exists: the test starts the client
// after the server prints this.
console.log("port ready");
let received = 0;
let checksum = 0;
const onFrame = (f: Uint8Array) => {
  const v = new DataView(f.buffer, f.byteOffset);
  if (v.getUint32(0, true) !== received) {
    console.log(`fail out of order at ${received}`);
    Deno.exit(1);
  }
  checksum = (checksum + v.getUint32(4, true)) >>> 0;
  received++;
};
const deadline = Date.now() + 30_000;
while (!port.linkUp()) {
  if (Date.now() > deadline) {
    console.log("fail link never came up");
    Deno.exit(1);
  }
  await new Promise((r) => setTimeout(r, 10));
}
console.log("link up");
if (ring) {
  // Loopback: what goes out on net_ring0 comes back in on it.
  const frame = new Uint8Array(64);
  const frameView = new DataView(frame.buffer);
  let sent = 0;
  const start = performance.now();
  while (received < count && Date.now() < deadline) {
    while (sent < count && port.pendingBytes < 32_000) {
      frameView.setUint32(0, sent, true);
      frameView.setUint32(4, mix(sent), true);
      if (!port.enqueue(frame)) break;
      sent++;
    }
    port.flush();
    port.receive(onFrame);
  }
  const elapsed = (performance.now() - start).toFixed(1);
  console.log(
    `received=${received} checksum=${checksum} lost=${port.stats().lost} elapsed_ms=${elapsed}`,
  );
} else if (role === "server") {
  let sent = 0;
  while (sent < count) {
    while (sent < count) {
      const f = new Uint8Array(64);
      const v = new DataView(f.buffer);
      v.setUint32(0, sent, true);
      v.setUint32(4, mix(sent), true);
      if (!port.enqueue(f)) break;
      sent++;
    }
    port.flush();
    if (Date.now() > deadline) {
      console.log(`fail sent only ${sent}`);
      Deno.exit(1);
    }
    if (port.pendingBytes > 0) await new Promise((r) => setTimeout(r, 0));
  }
  while (port.flush() > 0) await new Promise((r) => setTimeout(r, 1));
  console.log(`sent=${sent}`);
  // Keep the link up until the client has read everything (it closes stdin to say so).
  await Deno.stdin.readable.pipeTo(new WritableStream());
} else {
  while (received < count && Date.now() < deadline) {
    if (port.receive(onFrame) === 0) await new Promise((r) => setTimeout(r, 0));
  }
  console.log(`received=${received} checksum=${checksum} lost=${port.stats().lost}`);
}
port.close();
eal.stop();
