import assert from "node:assert/strict";
import * as jose from "jose";
import { BusError } from "../../protocol/mod.ts";
import {
  generateNodeKeyJwk,
  importNodeKey,
  issueToken,
  readNodeKeyFile,
  readVerificationKeys,
  TokenVerifier,
  writeNodeKeyFile,
} from "./mod.ts";

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BusError, String(e));
    assert.equal(e.code, "UNAUTHORIZED");
    return e.message;
  }
  return "accepted";
}

Deno.test("a token round-trips its grants through sign and verify", async () => {
  const key = await importNodeKey(await generateNodeKeyJwk());
  const token = await issueToken(key, {
    subject: "alice",
    realities: ["lab"],
    publish: { allow: ["orders.>"], deny: ["orders.secret.>"] },
    subscribe: { allow: ["orders.*"] },
    roles: ["operator"],
    ttlSeconds: 60,
  });
  const p = await new TokenVerifier([key.publicJwk]).verify(token);
  assert.equal(p.subject, "alice");
  assert.equal(p.method, "token");
  assert.deepEqual(p.realities, ["lab"]);
  assert.deepEqual(p.publish, { allow: ["orders.>"], deny: ["orders.secret.>"] });
  assert.deepEqual(p.subscribe, { allow: ["orders.*"] });
  assert.deepEqual(p.roles, ["operator"]);
  const remaining = p.expiresAtMs! - Date.now();
  assert.ok(remaining > 50_000 && remaining <= 60_000, String(remaining));
});

Deno.test("no token, expired, wrong signature, unknown key and alg none are refused", async () => {
  const key = await importNodeKey(await generateNodeKeyJwk());
  const other = await importNodeKey(await generateNodeKeyJwk());
  const verifier = new TokenVerifier([key.publicJwk], { clockToleranceSeconds: 0 });

  assert.match(await refusal(verifier.verify("")), /no token/);
  assert.match(await refusal(verifier.verify("not.a.jwt")), /malformed/);
  assert.match(await refusal(verifier.verify("x".repeat(9000))), /larger than/);

  const expired = await new jose.SignJWT({ realities: [] })
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid })
    .setSubject("alice").setIssuer("arqon").setAudience("arqon.v1")
    .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
    .sign(key.privateKey);
  assert.match(await refusal(verifier.verify(expired)), /expired/);

  // Same kid, signed by a different key: the signature must not verify.
  const forged = await new jose.SignJWT({ realities: ["*"], roles: ["admin"] })
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid })
    .setSubject("mallory").setIssuer("arqon").setAudience("arqon.v1")
    .setExpirationTime("1h")
    .sign(other.privateKey);
  assert.match(await refusal(verifier.verify(forged)), /signature/);

  const foreign = await issueToken(other, { subject: "bob", realities: ["*"] });
  assert.match(await refusal(verifier.verify(foreign)), /unknown key|signature/);

  const valid = await issueToken(key, { subject: "alice", realities: ["lab"] });
  const [, body] = valid.split(".");
  const unsigned = `${btoa(JSON.stringify({ alg: "none" })).replace(/=+$/, "")}.${body}.`;
  assert.notEqual(await refusal(verifier.verify(unsigned)), "accepted");
  // Tampering with the claims breaks the signature.
  const [h, , s] = valid.split(".");
  const claims = JSON.parse(new TextDecoder().decode(jose.base64url.decode(body)));
  claims.roles = ["admin"];
  const tampered = `${h}.${jose.base64url.encode(JSON.stringify(claims))}.${s}`;
  assert.match(await refusal(verifier.verify(tampered)), /signature/);
});

Deno.test("a rotated key set verifies tokens of both keys", async () => {
  const old = await importNodeKey(await generateNodeKeyJwk());
  const next = await importNodeKey(await generateNodeKeyJwk());
  const verifier = new TokenVerifier([old.publicJwk, next.publicJwk]);
  for (const key of [old, next]) {
    const p = await verifier.verify(await issueToken(key, { subject: key.kid, realities: [] }));
    assert.equal(p.subject, key.kid);
  }
});

Deno.test("node key files: written 0600, never overwritten, read back as signer and verifier", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/node.key`;
    const written = await writeNodeKeyFile(path);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    await assert.rejects(writeNodeKeyFile(path), Deno.errors.AlreadyExists);
    const read = await readNodeKeyFile(path);
    assert.equal(read.kid, written.kid);
    const verifier = new TokenVerifier(await readVerificationKeys(path));
    const p = await verifier.verify(await issueToken(read, { subject: "svc", realities: ["a"] }));
    assert.equal(p.subject, "svc");
    await Deno.writeTextFile(`${dir}/jwks.json`, JSON.stringify({ keys: [read.publicJwk] }));
    assert.deepEqual(await readVerificationKeys(`${dir}/jwks.json`), [read.publicJwk]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
