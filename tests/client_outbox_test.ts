/**
 * The client's outgoing path end to end: publishes encoded straight into the outgoing batch
 * (framed and masked in place on our sockets) arrive intact and in order, over every
 * transport the client dials, at sizes that take each WebSocket header length (7-bit,
 * 16-bit, 64-bit) and across batches that fill up mid-turn. Checked by a raw WebSocket
 * subscriber (no SDK) that parses the deliveries from the wire.
 */
import assert from "node:assert/strict";
import { ArqonClient } from "../mod.ts";
import { F, msg, num, pb, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { withNode } from "./support/node.ts";

/** A payload of `size` bytes whose content depends on `seed` (so swaps and shifts show). */
function payload(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

// Sizes around the WebSocket header boundaries (125/126, 65535/65536) and a large one.
const SIZES = [0, 1, 3, 100, 125, 126, 127, 1000, 4093, 65_000, 65_535, 65_536, 200_000];

Deno.test("publishes written in place arrive intact and in order over ws, ws (noDelay) and tcp", async () => {
  await withNode(async (node) => {
    const raw = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    raw.send(pb([[F.hello, [[1, "raw-sub"], [2, 1]]]]));
    await raw.wait(F.welcome);
    raw.send(pb([[F.subscribe, [[1, 1], [3, "out.>"], [12, 1]]]]));
    await raw.wait(F.subscribed);

    const dials: [string, string, boolean][] = [
      ["ws", node.wsUrl, false],
      ["ws-nodelay", node.wsUrl, true],
      ["tcp", node.tcpUrl!, false],
    ];
    const expected: [string, Uint8Array][] = [];
    let seed = 0;
    for (const [name, url, noDelay] of dials) {
      // A small batch limit makes batches fill up and leave in the middle of a turn.
      const client = await ArqonClient.connect(url, { noDelay, maxBatchBytes: 64 * 1024 });
      try {
        const acks: Promise<unknown>[] = [];
        for (const size of SIZES) {
          // Unacknowledged pulses around each acknowledged one, all in one turn.
          for (let i = 0; i < 3; i++) {
            const topic = `out.${name}.${size}.${i}`;
            const data = payload(size, ++seed);
            expected.push([topic, data]);
            const ack = i === 1 ? "received" : "none";
            const p = client.publish(topic, data, {
              ack,
              headers: { "x-seed": String(seed), "x-é": "ü" },
            });
            if (ack === "received") acks.push(p);
          }
        }
        const settled = await Promise.all(acks);
        assert.equal(settled.length, SIZES.length);
        await client.flush();
      } finally {
        await client.close();
      }
    }
    await raw.until(
      () => raw.of(F.deliver).length === expected.length,
      `${expected.length} deliveries`,
      30_000,
    );
    const got = raw.of(F.deliver).map((d) => msg(d, 2));
    assert.deepEqual(got.map((p) => str(p, 3)), expected.map(([t]) => t), "topics in order");
    got.forEach((p, i) => {
      const body = (p.get(11)?.[0] as Uint8Array | undefined) ?? new Uint8Array(0);
      assert.deepEqual(body, expected[i][1], `payload of ${expected[i][0]}`);
      const headers = (p.get(9) ?? []).map((h) => {
        const entry = new Map([...pbEntries(h as Uint8Array)]);
        return `${entry.get(1)}=${entry.get(2)}`;
      }).sort();
      assert.deepEqual(headers, [`x-seed=${i + 1}`, "x-é=ü"]);
    });
    assert.deepEqual(got.map((p) => num(p, 2)), expected.map((_, i) => i + 1), "sequences");
    await raw.close();
  }, { tcpPort: 0 });
});

/** The string fields of a map entry message (key = 1, value = 2). */
function* pbEntries(bytes: Uint8Array): Generator<[number, string]> {
  const dec = new TextDecoder();
  let pos = 0;
  while (pos < bytes.length) {
    const field = bytes[pos++] >> 3;
    const len = bytes[pos++];
    yield [field, dec.decode(bytes.subarray(pos, pos + len))];
    pos += len;
  }
}
