import assert from "node:assert/strict";
import { PacketFramer } from "./framing.ts";

Deno.test("packets split across reads and joined in one read are cut at their ends", () => {
  const f = new PacketFramer(1024);
  // PUBLISH qos0 topic "a" payload "xyz": 0x30, len 6, 0x00 0x01 'a' 'x' 'y' 'z'; then PINGREQ.
  const bytes = new Uint8Array([0x30, 6, 0, 1, 97, 120, 121, 122, 0xc0, 0]);
  assert.equal(f.push(bytes.subarray(0, 1)).packets.length, 0);
  assert.equal(f.push(bytes.subarray(1, 5)).packets.length, 0);
  const got = f.push(bytes.subarray(5));
  assert.deepEqual(got.packets.map((p) => [...p]), [[...bytes.subarray(0, 8)], [0xc0, 0]]);
  assert.equal(f.buffered, 0);
});

Deno.test("a packet announcing more than the bound is refused before its body arrives", () => {
  const f = new PacketFramer(100);
  // Remaining length 200 (0xc8 0x01): refused from the header alone.
  const got = f.push(new Uint8Array([0x30, 0xc8, 0x01]));
  assert.equal(got.error?.kind, "too_large");
  assert.match(got.error!.message, /203 bytes exceeds the limit of 100/);
});

Deno.test("a remaining length of more than 4 bytes is malformed", () => {
  const f = new PacketFramer(1 << 30);
  const got = f.push(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
  assert.equal(got.error?.kind, "malformed");
});
