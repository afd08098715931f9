import assert from "node:assert/strict";
import {
  answerChallenge,
  challengeMessage,
  type DidAlgorithm,
  didFromPublicKey,
  generateAgentIdentity,
  parseDidKey,
  verifyDidSignature,
} from "./mod.ts";

const nonce = new Uint8Array(32).fill(7);

for (const algorithm of ["Ed25519", "ML-DSA-44", "ML-DSA-65"] as DidAlgorithm[]) {
  Deno.test(`did:key ${algorithm}: round-trips and verifies its own challenge answers only`, () => {
    const agent = generateAgentIdentity(algorithm);
    assert(agent.did.startsWith("did:key:z"));
    const parsed = parseDidKey(agent.did);
    assert.deepEqual(parsed.algorithm, algorithm);
    assert.deepEqual(parsed.publicKey, agent.publicKey);
    assert.deepEqual(didFromPublicKey(algorithm, agent.publicKey), agent.did);

    const answer = answerChallenge(agent, "node-1", nonce);
    assert(verifyDidSignature(agent.did, challengeMessage("node-1", agent.did, nonce), answer));
    // Bound to node and nonce: the same answer proves nothing elsewhere.
    assert(!verifyDidSignature(agent.did, challengeMessage("node-2", agent.did, nonce), answer));
    const other = nonce.slice();
    other[0] = 8;
    assert(!verifyDidSignature(agent.did, challengeMessage("node-1", agent.did, other), answer));
    const stranger = generateAgentIdentity(algorithm);
    assert(
      !verifyDidSignature(stranger.did, challengeMessage("node-1", stranger.did, nonce), answer),
    );
  });
}

Deno.test("the Ed25519 did:key matches the did:key spec encoding (z6Mk prefix)", () => {
  // Every Ed25519 did:key begins with z6Mk because of the 0xed01 multicodec prefix.
  assert(generateAgentIdentity("Ed25519").did.startsWith("did:key:z6Mk"));
  const pk = new Uint8Array(32);
  assert.deepEqual(
    didFromPublicKey("Ed25519", pk),
    "did:key:z6MkeTG3bFFSLYVU7VqhgZxqr6YzpaGrQtFMh1uvqGy1vDnP",
  );
});

Deno.test("parseDidKey rejects malformed DIDs and verify treats them as false", () => {
  assert.throws(() => parseDidKey("did:web:example.com"), TypeError);
  assert.throws(() => parseDidKey("did:key:z0OIl"), TypeError);
  assert.throws(() => parseDidKey("did:key:z6Mk"), TypeError);
  assert(!verifyDidSignature("did:key:nope", new Uint8Array(1), new Uint8Array(64)));
});
