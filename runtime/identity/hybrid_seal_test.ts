import assert from "node:assert/strict";
import { generateSealKeyPair, isSealed, open, seal, SEAL_OVERHEAD_BYTES } from "./mod.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("seal then open returns the plaintext and hides it from the bytes in between", async () => {
  const bob = generateSealKeyPair();
  const marker = text("PLAINTEXT-MARKER-7f3a secret orders");
  const sealed = await seal(bob.publicKey, marker);
  assert.deepEqual(sealed.length, marker.length + SEAL_OVERHEAD_BYTES);
  assert(isSealed(sealed));
  assert(!new TextDecoder("latin1").decode(sealed).includes("PLAINTEXT-MARKER"));
  assert.deepEqual(await open(bob, sealed), marker);
});

Deno.test("two seals of the same plaintext differ (fresh ephemeral keys and iv)", async () => {
  const bob = generateSealKeyPair();
  const a = await seal(bob.publicKey, text("same"));
  const b = await seal(bob.publicKey, text("same"));
  assert.notDeepEqual(a, b);
});

Deno.test("open refuses another recipient, altered bytes and a different aad", async () => {
  const bob = generateSealKeyPair();
  const eve = generateSealKeyPair();
  const aad = text("orders.eu.created");
  const sealed = await seal(bob.publicKey, text("hello bob"), aad);
  await assert.rejects(open(eve, sealed, aad), /failed authentication/);
  await assert.rejects(open(bob, sealed, text("orders.us.created")), Error);
  // One byte in each part: ephemeral key, KEM ciphertext, iv, ciphertext, tag.
  for (const index of [5, 40, 1125, 1140, sealed.length - 1]) {
    const altered = sealed.slice();
    altered[index] ^= 1;
    await assert.rejects(open(bob, altered, aad), Error);
  }
  assert.deepEqual(new TextDecoder().decode(await open(bob, sealed, aad)), "hello bob");
});

Deno.test("seal rejects a malformed public key and open a non-envelope", async () => {
  await assert.rejects(seal(new Uint8Array(32), text("x")), TypeError);
  const bob = generateSealKeyPair();
  await assert.rejects(open(bob, text("just some bytes")), TypeError);
});
