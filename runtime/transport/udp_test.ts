import assert from "node:assert/strict";
import { UdpEndpoint } from "./udp.ts";

Deno.test("udp: batches arrive in order on loopback with sequence-checked zero loss", async () => {
  const a = new UdpEndpoint("127.0.0.1:0", 512);
  const b = new UdpEndpoint("127.0.0.1:0", 512);
  try {
    a.connect(`127.0.0.1:${b.port}`);
    const total = 2000;
    const got: number[] = [];
    let sent = 0;
    const deadline = Date.now() + 10_000;
    while (got.length < total && Date.now() < deadline) {
      while (sent < total && a.pendingBytes < 16_000) {
        const f = new Uint8Array(8 + (sent % 100));
        new DataView(f.buffer).setUint32(0, sent, true);
        if (!a.enqueue(f)) break;
        sent++;
      }
      a.flush();
      if (
        b.receive((f) => got.push(new DataView(f.buffer, f.byteOffset).getUint32(0, true))) === 0
      ) {
        await b.wait(50);
      }
    }
    assert.deepStrictEqual(got, Array.from({ length: total }, (_, i) => i));
    const sa = a.stats();
    const sb = b.stats();
    assert.equal(sa.framesSent, total);
    assert.equal(sb.framesReceived, total);
    assert.equal(sb.lost, 0);
    assert.ok(sa.sendBatches >= Math.ceil(total / 64), "sendmmsg moves at most 64 per call");
    assert.throws(() => a.enqueue(new Uint8Array(513)), /datagram/);
  } finally {
    a.close();
    b.close();
  }
});
