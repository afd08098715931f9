import assert from "node:assert/strict";
import { answerChallenge, generateAgentIdentity } from "../../identity/mod.ts";
import { BusError } from "../../protocol/mod.ts";
import { Authenticator, ChallengeIssuer, DidDirectory } from "./mod.ts";

function refusedWith(fn: () => unknown, pattern: RegExp, code = "UNAUTHORIZED"): void {
  assert.throws(fn, (e) => e instanceof BusError && e.code === code && pattern.test(e.message));
}

Deno.test("a signed nonce proves the DID once; the replayed answer is refused", () => {
  const issuer = new ChallengeIssuer("node-a");
  const agent = generateAgentIdentity("Ed25519");
  const { nonce, nodeId } = issuer.issue();
  const signature = answerChallenge(agent, nodeId, nonce);
  assert.equal(issuer.verify({ did: agent.did, nonce, signature }), agent.did);
  assert.equal(issuer.outstanding, 0);
  refusedWith(() => issuer.verify({ did: agent.did, nonce, signature }), /replay/);
});

Deno.test("an ML-DSA-65 agent proves its DID", () => {
  const issuer = new ChallengeIssuer("node-a");
  const agent = generateAgentIdentity("ML-DSA-65");
  const { nonce } = issuer.issue();
  const signature = answerChallenge(agent, "node-a", nonce);
  assert.equal(issuer.verify({ did: agent.did, nonce, signature }), agent.did);
});

Deno.test("wrong signer, other node, made-up nonce and expired nonce are refused", () => {
  let now = 1_000;
  const issuer = new ChallengeIssuer("node-a", { ttlMs: 100, now: () => now });
  const agent = generateAgentIdentity();
  const mallory = generateAgentIdentity();

  let c = issuer.issue();
  // Mallory signs, claiming the agent's DID.
  refusedWith(
    () =>
      issuer.verify({
        did: agent.did,
        nonce: c.nonce,
        signature: answerChallenge(mallory, "node-a", c.nonce),
      }),
    /does not verify/,
  );
  // The failed attempt consumed the nonce: the right answer now comes too late.
  refusedWith(
    () =>
      issuer.verify({
        did: agent.did,
        nonce: c.nonce,
        signature: answerChallenge(agent, "node-a", c.nonce),
      }),
    /already answered/,
  );

  c = issuer.issue();
  refusedWith(
    () =>
      issuer.verify({
        did: agent.did,
        nonce: c.nonce,
        signature: answerChallenge(agent, "node-b", c.nonce),
      }),
    /does not verify/,
  );

  const madeUp = new Uint8Array(32).fill(1);
  refusedWith(
    () =>
      issuer.verify({
        did: agent.did,
        nonce: madeUp,
        signature: answerChallenge(agent, "node-a", madeUp),
      }),
    /unknown/,
  );

  c = issuer.issue();
  now += 101;
  refusedWith(
    () =>
      issuer.verify({
        did: agent.did,
        nonce: c.nonce,
        signature: answerChallenge(agent, "node-a", c.nonce),
      }),
    /expired/,
  );
});

Deno.test("outstanding nonces are bounded and expired ones swept", () => {
  let now = 0;
  const issuer = new ChallengeIssuer("n", { ttlMs: 10, maxOutstanding: 5, now: () => now });
  for (let i = 0; i < 20; i++) issuer.issue();
  assert.ok(issuer.outstanding <= 6);
  now = 100;
  issuer.issue();
  assert.equal(issuer.outstanding, 1);
});

Deno.test("Authenticator: hello with a did gets a challenge, the answer gets the DID's grants", async () => {
  const agent = generateAgentIdentity();
  const stranger = generateAgentIdentity();
  const auth = new Authenticator({
    nodeId: "node-a",
    dids: new DidDirectory({ [agent.did]: { realities: ["lab"], roles: ["operator"] } }),
  });
  assert.equal(auth.required, true);
  const first = await auth.fromHello({ did: agent.did });
  assert.ok(first.challenge);
  const { nonce, nodeId } = first.challenge;
  const signature = answerChallenge(agent, nodeId, nonce);
  const second = await auth.fromHello({ did: agent.did, nonce, signature });
  assert.equal(second.principal?.subject, agent.did);
  assert.deepEqual(second.principal?.realities, ["lab"]);
  await assert.rejects(
    auth.fromHello({ did: agent.did, nonce, signature }),
    (e) => e instanceof BusError && e.code === "UNAUTHORIZED" && /replay/.test(e.message),
  );
  // A DID that proves its key but is not configured gets nothing.
  const c = (await auth.fromHello({ did: stranger.did })).challenge!;
  await assert.rejects(
    auth.fromHello({
      did: stranger.did,
      nonce: c.nonce,
      signature: answerChallenge(stranger, c.nodeId, c.nonce),
    }),
    (e) => e instanceof BusError && e.code === "FORBIDDEN",
  );
  await assert.rejects(
    auth.fromHello({ clientName: "x" }),
    (e) =>
      e instanceof BusError && e.code === "UNAUTHORIZED" && /no token and no did/.test(e.message),
  );
  await assert.rejects(
    auth.fromHello({ token: "abc" }),
    (e) => e instanceof BusError && /does not accept tokens/.test(e.message),
  );
});

Deno.test("Authenticator: open node admits everyone; bearer header is parsed strictly", async () => {
  const open = new Authenticator();
  assert.equal(open.required, false);
  const p = (await open.fromHello({ clientName: "probe" })).principal!;
  assert.equal(p.method, "open");
  assert.equal(p.subject, "probe");
  const closed = new Authenticator({ dids: new DidDirectory({}) });
  for (const header of [null, "", "Basic abc", "Bearer", "Bearer a b"]) {
    await assert.rejects(
      closed.fromAuthorization(header),
      (e) => e instanceof BusError && e.code === "UNAUTHORIZED",
    );
  }
});
