/**
 * A UDP peer attached to a real node through `UdpLink` (a `Transport`): it subscribes and
 * publishes with the WebSocket protocol's frames, one per datagram, and gets its pulses
 * back in order, with loss counted by sequence numbers (none on loopback at this pace).
 */
import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, type IFrame, startNode } from "../mod.ts";
import { NativeMetrics, UdpEndpoint, UdpLink } from "../runtime/transport/mod.ts";

Deno.test("udp e2e: a UDP peer publishes and subscribes through the node", async () => {
  const node = await startNode({ port: 0, log: "quiet", memory: true });
  const peer = new UdpEndpoint("127.0.0.1:0", 1400);
  let link: UdpLink | null = null;
  try {
    link = new UdpLink(
      "127.0.0.1:0",
      `127.0.0.1:${peer.port}`,
      (t) => node.attach(t, "proto"),
      { metrics: new NativeMetrics(node.metrics.registry) },
    );
    peer.connect(`127.0.0.1:${link.port}`);
    const got: number[] = [];
    let subscribed = false;
    const onFrame = (f: IFrame): void => {
      if (f.batch) { for (const inner of f.batch.frames ?? []) onFrame(inner); }
      if (f.subscribed) subscribed = true;
      if (f.error) throw new Error(`node error: ${f.error.message}`);
      if (f.deliver) {
        const p = f.deliver.pulse!.payload!;
        got.push(new DataView(p.buffer, p.byteOffset).getUint32(0, true));
      }
    };
    const pump = async (until: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!until()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        if (peer.receive((bytes) => onFrame(decodeFrame(bytes))) === 0) await peer.wait(20);
      }
    };
    const send = (frame: IFrame) => {
      assert.ok(peer.enqueue(encodeFrame(frame)));
      peer.flush();
    };
    send({ subscribe: { subscriptionId: 1, pattern: "udp.>", correlationId: 1 } });
    await pump(() => subscribed, "subscribed");
    const total = 2000;
    // Bursts of 200, each awaited, keep the kernel's socket buffers far from full.
    for (let start = 0; start < total; start += 200) {
      for (let i = start; i < start + 200; i++) {
        const payload = new Uint8Array(16);
        new DataView(payload.buffer).setUint32(0, i, true);
        peer.enqueue(encodeFrame({ publish: { pulse: { topic: "udp.data", payload } } }));
      }
      peer.flush();
      await pump(() => got.length >= start + 200, `deliveries up to ${start + 200}`);
    }
    assert.deepStrictEqual(got, Array.from({ length: total }, (_, i) => i));
    const s = peer.stats();
    assert.equal(s.lost, 0);
    assert.ok(s.framesReceived < total, "the node batches several deliveries per datagram");
    const text = await node.metrics.registry.metrics();
    const rx = text.match(/arqon_native_frames_total\{backend="udp",direction="rx"\} (\d+)/);
    assert.ok(rx && Number(rx[1]) === total + 1, `node read every datagram: ${rx?.[1]}`);
    assert.match(text, /arqon_native_lost_total\{backend="udp"\} 0/);
  } finally {
    await link?.shutdown();
    peer.close();
    await node.shutdown();
  }
});
