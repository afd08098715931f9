/**
 * The node's Ed25519 signing key for bearer tokens, kept as a private JWK in a file only
 * its owner can read. Verifiers that should not sign (other nodes, gateways) get the
 * public half as a JWK Set. The key id is the RFC 7638 thumbprint, so rotation is adding
 * a key to the set and issuing with the new one.
 * @module
 */
import * as jose from "jose";

/** A key that can issue tokens. */
export interface NodeSigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  /** The public half, as published in a JWK Set. */
  readonly publicJwk: jose.JWK;
}

/** Creates a fresh Ed25519 key and returns it as a private JWK (with `kid` and `alg`). */
export async function generateNodeKeyJwk(): Promise<jose.JWK> {
  const { privateKey } = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  const kid = await jose.calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x });
  return { ...jwk, kid, alg: "EdDSA" };
}

/** Writes a new node key to `path` (mode 0600); refuses to overwrite an existing file. */
export async function writeNodeKeyFile(path: string): Promise<NodeSigningKey> {
  const jwk = await generateNodeKeyJwk();
  await Deno.writeTextFile(path, JSON.stringify(jwk, null, 2) + "\n", {
    createNew: true,
    mode: 0o600,
  });
  return await importNodeKey(jwk);
}

/** Reads a node key file written by `writeNodeKeyFile`. */
export async function readNodeKeyFile(path: string): Promise<NodeSigningKey> {
  return await importNodeKey(JSON.parse(await Deno.readTextFile(path)));
}

/** Imports a private Ed25519 JWK. */
export async function importNodeKey(jwk: jose.JWK): Promise<NodeSigningKey> {
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.d || !jwk.x) {
    throw new TypeError("node key must be a private Ed25519 JWK (kty OKP, crv Ed25519)");
  }
  const publicJwk: jose.JWK = { kty: "OKP", crv: "Ed25519", x: jwk.x, alg: "EdDSA" };
  const kid = jwk.kid ?? await jose.calculateJwkThumbprint(publicJwk);
  const privateKey = await jose.importJWK(
    { ...jwk, alg: "EdDSA" },
    "EdDSA",
  ) as unknown as CryptoKey;
  return { kid, privateKey, publicJwk: { ...publicJwk, kid } };
}

/**
 * Reads the verification keys from `path`: either a node key file (its public half is
 * used) or a JWK Set `{"keys":[...]}` of public keys.
 */
export async function readVerificationKeys(path: string): Promise<jose.JWK[]> {
  const json = JSON.parse(await Deno.readTextFile(path));
  if (Array.isArray(json?.keys)) return json.keys as jose.JWK[];
  return [(await importNodeKey(json)).publicJwk];
}
