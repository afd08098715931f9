import assert from "node:assert/strict";
import { PulseRandom } from "../sandbox/mod.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { deriveOutput, pulseSeed, RandomU64, realitySeed } from "./mod.ts";

const hex = (v: bigint) => "0x" + v.toString(16).padStart(16, "0");

Deno.test("random-u64: SplitMix64 test vectors (docs/time.md)", () => {
  const vectors: [bigint, string[]][] = [
    [0n, ["0xe220a8397b1dcdaf", "0x6e789e6aa1b965f4", "0x06c45d188009454f"]],
    [1n, ["0x910a2dec89025cc1", "0xbeeb8da1658eec67", "0xf893a2eefb32555e"]],
    [42n, ["0xbdd732262feb6e95", "0x28efe333b266f103", "0x47526757130f9f52"]],
    [0xffffffffffffffffn, ["0xe4d971771b652c20", "0xe99ff867dbf682c9", "0x382ff84cb27281e9"]],
  ];
  for (const [seed, want] of vectors) {
    const rng = new RandomU64(seed);
    assert.deepEqual([rng.next(), rng.next(), rng.next()].map(hex), want, `seed ${seed}`);
  }
});

Deno.test("random-u64: the client's generator is the host's, bit for bit", () => {
  for (const seed of [0n, 1n, 12345n, 2n ** 53n - 1n, 0xdeadbeefcafebaben]) {
    const client = new RandomU64(seed);
    const host = new PulseRandom();
    host.reset(seed);
    for (let i = 0; i < 1000; i++) {
      assert.equal(client.next(), BigInt.asUintN(64, host.next()), `seed ${seed} draw ${i}`);
    }
  }
});

Deno.test("derivations: test vectors (docs/time.md)", () => {
  assert.equal(realitySeed("default"), 4772495652119188);
  assert.equal(pulseSeed(realitySeed("default"), 1), 3618361728711892);
  assert.equal(pulseSeed(realitySeed("default"), 2), 1491692305586712);
  assert.equal(pulseSeed(0, 0), 5937599013191680);
  assert.deepEqual(
    deriveOutput({ entropySeed: 7n, wallMs: 1700000000000n, logical: 0 }, "echo", 0),
    {
      id: "018bcfe5-6800-7c28-b4aa-43d5b49e450f",
      timestamp: { wallMs: 1700000000000, logical: 1 },
      entropySeed: 550206265383954,
    },
  );
});

Deno.test("derivations: seeds stay below 2^53 and differ by sequence, operator and index", () => {
  const seen = new Set<number>();
  const r = realitySeed("lab");
  for (let q = 1; q <= 20_000; q++) {
    const s = pulseSeed(r, q);
    assert.ok(Number.isSafeInteger(s) && s >= 0);
    seen.add(s);
  }
  assert.equal(seen.size, 20_000);
  const input = { entropySeed: 99n, wallMs: 1n, logical: 3 };
  const ids = new Set<string>();
  for (const op of ["a", "b"]) {
    for (let i = 0; i < 100; i++) {
      const d = deriveOutput(input, op, i);
      assert.match(d.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.ok(Number.isSafeInteger(d.entropySeed));
      assert.equal(d.timestamp.logical, 4 + i);
      ids.add(d.id);
    }
  }
  assert.equal(ids.size, 200);
});

Deno.test("derivations: the reused hasher digests what a one-shot SHA-256 of the message does", () => {
  // deriveOutput copies a tagged hasher's state per call: every call must hash exactly its
  // own message (no leftover of the previous one), whatever the name's length (1-3 blocks).
  const enc = new TextEncoder();
  const seedOf = (h: Uint8Array) =>
    ((h[10] & 0x1f) << 16 | h[11] << 8 | h[12]) * 2 ** 32 +
    ((h[13] << 24 | h[14] << 16 | h[15] << 8 | h[16]) >>> 0);
  let x = 12345;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  for (let n = 0; n < 300; n++) {
    const input = {
      entropySeed: BigInt(next()) << 21n | BigInt(next()),
      wallMs: 1_700_000_000_000n + BigInt(next()),
      logical: next() % 1000,
    };
    const op = "op-" + "x".repeat(next() % 130);
    const index = next() % 70;
    const msg = new Uint8Array(16 + 24 + enc.encode(op).length);
    msg.set(enc.encode("arqon/output/v1\0"));
    const v = new DataView(msg.buffer);
    v.setBigUint64(16, input.entropySeed);
    v.setBigUint64(24, input.wallMs);
    v.setUint32(32, input.logical);
    v.setUint32(36, index);
    msg.set(enc.encode(op), 40);
    const h = sha256(msg);
    const d = deriveOutput(input, op, index);
    assert.equal(d.entropySeed, seedOf(h), `message ${n}`);
    assert.equal(
      d.id.slice(-12),
      [...h.subarray(4, 10)].map((b) => b.toString(16).padStart(2, "0")).join(""),
    );
  }
});
