import assert from "node:assert/strict";
import {
  createKeyRingFile,
  keyIdOf,
  KeyRing,
  loadPayloadCipher,
  PayloadCipher,
  recordAad,
  rotateKeyRingFile,
  SINGLE_KEY_ENV,
} from "./mod.ts";

const text = (s: string) => new TextEncoder().encode(s);
const latin1 = (b: Uint8Array) => new TextDecoder("latin1").decode(b);

Deno.test("seal/open round-trips, hides the plaintext and names the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const id = await createKeyRingFile(`${dir}/keys.json`);
    assert.equal((await Deno.stat(`${dir}/keys.json`)).mode! & 0o777, 0o600);
    const cipher = new PayloadCipher(await KeyRing.fromFile(`${dir}/keys.json`));
    const marker = text("PLAINTEXT-MARKER-91c2 card 4111");
    const sealed = cipher.seal(marker);
    assert.equal(sealed.length, marker.length + cipher.overhead);
    assert.equal(keyIdOf(sealed), id);
    assert.ok(!latin1(sealed).includes("PLAINTEXT-MARKER"));
    assert.deepEqual(cipher.open(sealed), marker);
    assert.deepEqual(cipher.open(cipher.seal(new Uint8Array(0))), new Uint8Array(0));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rotation: new records use the new key, old records still open, a lost key fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/keys.json`;
    const first = await createKeyRingFile(path);
    const before = new PayloadCipher(await KeyRing.fromFile(path));
    const old = before.seal(text("old record"));
    const second = await rotateKeyRingFile(path);
    assert.notEqual(first, second);
    const ring = await KeyRing.fromFile(path);
    assert.deepEqual(ring.ids().sort(), [first, second].sort());
    const after = new PayloadCipher(ring);
    const fresh = after.seal(text("new record"));
    assert.equal(keyIdOf(fresh), second);
    assert.equal(new TextDecoder().decode(after.open(old)), "old record");
    assert.equal(new TextDecoder().decode(after.open(fresh)), "new record");
    assert.throws(() => before.open(fresh), /lacks/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("altered bytes, a wrong aad and garbage are refused", () => {
  const key = btoa(String.fromCharCode(...new Uint8Array(32).fill(9)));
  const cipher = new PayloadCipher(KeyRing.fromJson({ active: "a", keys: { a: key } }));
  const aad = text("lab/42");
  const sealed = cipher.seal(text("pulse bytes"), aad);
  assert.equal(new TextDecoder().decode(cipher.open(sealed, aad)), "pulse bytes");
  assert.throws(() => cipher.open(sealed, text("lab/43")), /authentication/);
  for (let i = 4; i < sealed.length; i++) {
    const altered = sealed.slice();
    altered[i] ^= 0x10;
    assert.throws(() => cipher.open(altered, aad));
  }
  assert.throws(() => cipher.open(text("plain old bytes here, not sealed")), /not a sealed/);
});

Deno.test("key rings from the environment: JSON ring or one key with a stable id", () => {
  const key = btoa(String.fromCharCode(...new Uint8Array(32).fill(3)));
  const env = (vars: Record<string, string>) => ({ get: (n: string) => vars[n] });
  assert.equal(KeyRing.fromEnv(env({})), undefined);
  const one = KeyRing.fromEnv(env({ [SINGLE_KEY_ENV]: key }))!;
  assert.equal(one.activeId, KeyRing.fromEnv(env({ [SINGLE_KEY_ENV]: key }))!.activeId);
  assert.match(one.activeId, /^env-[0-9a-f]{12}$/);
  const ring = KeyRing.fromEnv(env({
    ARQON_STORE_KEYS: JSON.stringify({ active: "b", keys: { a: key, b: key } }),
  }))!;
  assert.equal(ring.activeId, "b");
  assert.throws(() => KeyRing.fromJson({ active: "x", keys: { a: key } }), /not in the ring/);
  assert.throws(() => KeyRing.fromJson({ active: "a", keys: { a: btoa("short") } }), /32 bytes/);
  assert.throws(() => KeyRing.fromJson({ active: "a", keys: { a: "%%%" } }), /base64/);
});

Deno.test("recordAad binds a record to its place; loadPayloadCipher reads file or env", async () => {
  const key = btoa(String.fromCharCode(...new Uint8Array(32).fill(5)));
  const cipher = (await loadPayloadCipher(undefined, {
    get: (n: string) => n === SINGLE_KEY_ENV ? key : undefined,
  }))!;
  const sealed = cipher.seal(text("chunk"), recordAad(1, 2, 300, 1_700_000_000_000));
  assert.equal(
    new TextDecoder().decode(cipher.open(sealed, recordAad(1, 2, 300, 1_700_000_000_000))),
    "chunk",
  );
  assert.throws(
    () => cipher.open(sealed, recordAad(2, 2, 300, 1_700_000_000_000)),
    /authentication/,
  );
  assert.deepEqual(recordAad(1).length, 8);
  assert.equal(await loadPayloadCipher(undefined, { get: () => undefined }), undefined);
});
