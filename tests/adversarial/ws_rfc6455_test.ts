/**
 * RFC 6455 details against a node process, on raw TCP: close frames a peer may not send
 * (reserved or unassigned codes, a 1-byte body, a reason that is not UTF-8), long or
 * fragmented control frames and non-UTF-8 text fail the connection with the right code
 * instead of being echoed; a batch announcing 2^63 bytes gets a typed error, not silence.
 */
import assert from "node:assert/strict";
import { errorCodeValue } from "../../runtime/protocol/mod.ts";
import { F, frames, num } from "../support/pb.ts";
import { binaryFrame, clientFrame, RawTcpWs, startNodeChild } from "./support.ts";

const HELLO = binaryFrame([[F.hello, [[1, "rfc6455"], [2, 1]]]]);

Deno.test({
  name: "RFC 6455: bad close frames, control frames and text fail the connection (1002/1007)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await startNodeChild();
    try {
      const cases: [string, Uint8Array, number][] = [
        ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000].map((code) =>
          [
            `close code ${code}`,
            clientFrame(0x8, new Uint8Array([code >> 8, code & 0xff])),
            1002,
          ] as [
            string,
            Uint8Array,
            number,
          ]
        ),
        ["a 1-byte close body", clientFrame(0x8, new Uint8Array([0x03])), 1002],
        ["a non-UTF-8 reason", clientFrame(0x8, new Uint8Array([0x03, 0xe8, 0xff, 0xfe])), 1007],
        ["a ping of 126 bytes", clientFrame(0x9, new Uint8Array(126)), 1002],
        ["a fragmented ping", clientFrame(0x9, new Uint8Array(1), false), 1002],
        ["non-UTF-8 text", clientFrame(0x1, new Uint8Array([0xc3, 0x28])), 1007],
        ["a valid close", clientFrame(0x8, new Uint8Array([0x0f, 0xa0])), 4000],
      ];
      for (const [name, frame, want] of cases) {
        const ws = await RawTcpWs.open(node.port);
        try {
          await ws.write(HELLO);
          await ws.write(frame);
          const { code } = await ws.readUntilClose(3000);
          assert.equal(code, want, name);
        } finally {
          ws.close();
        }
      }
    } finally {
      await node.stop();
    }
  },
});

Deno.test({
  name: "a batch announcing 2^63 bytes is answered INVALID_FRAME, not taken as empty",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await startNodeChild();
    const ws = await RawTcpWs.open(node.port);
    try {
      await ws.write(HELLO);
      // Frame{batch} with a 10-byte length varint of 2^63, then one Frame{ping{nonce 9}}.
      const len = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
      await ws.write(
        clientFrame(0x2, new Uint8Array([0x72, ...len, 0x0a, 0x04, 0x62, 0x02, 0x08, 9])),
      );
      const { binary } = await ws.readUntilClose(1500, true);
      const got = binary.flatMap((b) => frames(b));
      const errors = got.filter(([kind]) => kind === F.error);
      assert.equal(errors.length, 1, `one error frame (got kinds ${got.map(([k]) => k)})`);
      assert.equal(num(errors[0][1], 1), errorCodeValue("INVALID_FRAME"));
      assert.equal(got.filter(([kind]) => kind === F.pong).length, 0, "nothing was executed");
    } finally {
      ws.close();
      await node.stop();
    }
  },
});
