/**
 * Authentication and authorization end to end: a real node on port 0 with a token key
 * and DID grants; clients over real WebSocket and HTTP. Every refusal must be a typed
 * error (frame code or HTTP status + JSON body) with a message that says why.
 */
import assert from "node:assert/strict";
import * as jose from "jose";
import { type ArqonNode, startNode } from "../mod.ts";
import { ArqonClient } from "../runtime/client/mod.ts";
import { answerChallenge, generateAgentIdentity } from "../runtime/identity/mod.ts";
import { BusError, errorCodeName, type IFrame } from "../runtime/protocol/mod.ts";
import {
  generateNodeKeyJwk,
  importNodeKey,
  issueToken,
  type NodeSigningKey,
  writeNodeKeyFile,
} from "../runtime/shield/auth/mod.ts";
import { WirePeer } from "./security_wire.ts";

interface Fixture {
  node: ArqonNode;
  key: NodeSigningKey;
  agent: ReturnType<typeof generateAgentIdentity>;
  dir: string;
}

async function withNode(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "arqon-auth-" });
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  const agent = generateAgentIdentity("Ed25519");
  await Deno.writeTextFile(
    `${dir}/dids.json`,
    JSON.stringify({
      dids: {
        [agent.did]: { realities: ["lab"], publish: { allow: ["agents.>"] }, roles: ["operator"] },
      },
    }),
  );
  const node = await startNode({
    port: 0,
    log: "quiet",
    memory: true,
    nodeId: "node-sec",
    authKey: `${dir}/node.key`,
    authDids: `${dir}/dids.json`,
  });
  try {
    await fn({ node, key, agent, dir });
  } finally {
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

async function refusal(p: Promise<unknown>): Promise<BusError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BusError) return e;
    throw e;
  }
  assert.fail("expected a refusal");
}

function errorOf(frame: IFrame): { code: string; message: string } {
  assert.equal(frame.kind, "error", JSON.stringify(frame));
  return { code: errorCodeName(frame.error!.code ?? 0), message: frame.error!.message ?? "" };
}

const aliceGrants = {
  subject: "alice",
  realities: ["lab"],
  publish: { allow: ["orders.>"], deny: ["orders.secret.>"] },
  subscribe: { allow: ["orders.>"], deny: ["orders.secret.>"] },
};

Deno.test("ws: no token, expired token and wrong signature are refused at hello", async () => {
  await withNode(async ({ node, key }) => {
    let e = await refusal(ArqonClient.connect(node.wsUrl, { reconnect: false }));
    assert.equal(e.code, "UNAUTHORIZED");
    assert.match(e.message, /no token and no did/);

    const expired = await new jose.SignJWT({ realities: ["lab"] })
      .setProtectedHeader({ alg: "EdDSA", kid: key.kid })
      .setSubject("alice").setIssuer("arqon").setAudience("arqon.v1")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(key.privateKey);
    e = await refusal(ArqonClient.connect(node.wsUrl, { token: expired, reconnect: false }));
    assert.equal(e.code, "UNAUTHORIZED");
    assert.match(e.message, /expired/);

    const stranger = await importNodeKey(await generateNodeKeyJwk());
    const forged = await new jose.SignJWT({ realities: ["*"], roles: ["admin"] })
      .setProtectedHeader({ alg: "EdDSA", kid: key.kid })
      .setSubject("mallory").setIssuer("arqon").setAudience("arqon.v1")
      .setExpirationTime("1h")
      .sign(stranger.privateKey);
    e = await refusal(ArqonClient.connect(node.wsUrl, { token: forged, reconnect: false }));
    assert.equal(e.code, "UNAUTHORIZED");
    assert.match(e.message, /signature/);
  });
});

Deno.test("ws: a session ends when its token expires (1008), subscriptions with it", async () => {
  await withNode(async ({ node, key }) => {
    // Three seconds: at least two full seconds left after the whole-second rounding of `exp`.
    const token = await issueToken(key, { ...aliceGrants, ttlSeconds: 3 });
    const peer = await WirePeer.open(node.wsUrl);
    peer.send({ hello: { protocolVersion: 1, token } });
    assert.equal((await peer.next()).kind, "welcome");
    peer.send({
      subscribe: { subscriptionId: 1, realityId: "lab", pattern: "orders.*", correlationId: 1 },
    });
    assert.equal((await peer.next()).kind, "subscribed");
    const { code, reason } = await peer.closed;
    assert.equal(code, 1008);
    assert.equal(reason, "credentials expired");
  });
});

Deno.test("ws: five failed hellos close the connection (1008), audited", async () => {
  await withNode(async ({ node }) => {
    const peer = await WirePeer.open(node.wsUrl);
    for (let i = 0; i < 5; i++) {
      peer.send({ hello: { protocolVersion: 1, token: `guess-${i}` } });
      assert.equal(errorOf(await peer.next()).code, "UNAUTHORIZED");
    }
    const { code, reason } = await peer.closed;
    assert.equal(code, 1008);
    assert.equal(reason, "too many failed authentications");
    const kicks = node.audit.list().filter((e) => e.action === "connection.kick");
    assert.equal(kicks.length, 1);
  });
});

Deno.test("ws: frames before an accepted hello are refused; an oversized hello too", async () => {
  await withNode(async ({ node }) => {
    const peer = await WirePeer.open(node.wsUrl);
    try {
      peer.send({
        publish: { correlationId: 7, ack: 1, pulse: { topic: "orders.x", realityId: "lab" } },
      });
      let err = errorOf(await peer.next());
      assert.equal(err.code, "UNAUTHORIZED");
      assert.match(err.message, /authenticate first/);
      peer.send({ hello: { protocolVersion: 1, token: "x".repeat(20_000) } });
      err = errorOf(await peer.next());
      assert.equal(err.code, "UNAUTHORIZED");
      assert.match(err.message, /exceeds the limit/);
    } finally {
      await peer.close();
    }
  });
});

Deno.test("ws: a token's topic and reality permissions are enforced", async () => {
  await withNode(async ({ node, key }) => {
    const token = await issueToken(key, aliceGrants);
    const alice = await ArqonClient.connect(node.wsUrl, { token, reconnect: false });
    try {
      const ack = await alice.publish("orders.eu.created", "ok", { reality: "lab" });
      assert.equal(ack?.sequence, 1);
      let e = await refusal(alice.publish("orders.secret.keys", "no", { reality: "lab" }));
      assert.equal(e.code, "FORBIDDEN");
      assert.match(e.message, /may not publish to "orders.secret.keys"/);
      e = await refusal(alice.publish("users.created", "no", { reality: "lab" }));
      assert.equal(e.code, "FORBIDDEN");
      e = await refusal(alice.publish("orders.eu.created", "no", { reality: "prod" }));
      assert.equal(e.code, "FORBIDDEN");
      assert.match(e.message, /may not use reality "prod"/);
      e = await refusal(alice.subscribe("users.>", { reality: "lab" }).ready);
      assert.equal(e.code, "FORBIDDEN");
      e = await refusal(alice.subscribe("orders.secret.*", { reality: "lab" }).ready);
      assert.equal(e.code, "FORBIDDEN");

      // A pattern overlapping a deny is admitted but filtered: the secret never arrives.
      const seen: string[] = [];
      const sub = alice.subscribe("orders.>", {
        reality: "lab",
        onPulse: (p) => seen.push(p.topic ?? ""),
      });
      await sub.ready;
      const admin = await ArqonClient.connect(node.wsUrl, {
        token: await issueToken(key, { subject: "root", roles: ["admin"] }),
        reconnect: false,
      });
      try {
        for (const topic of ["orders.a", "orders.secret.x", "orders.b"]) {
          await admin.publish(topic, "x", { reality: "lab" });
        }
        await admin.publish("orders.done", "x", { reality: "lab" });
        const deadline = Date.now() + 5000;
        while (!seen.includes("orders.done") && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 5));
        }
        assert.deepEqual(seen, ["orders.a", "orders.b", "orders.done"]);
      } finally {
        await admin.close();
      }
    } finally {
      await alice.close();
    }
  });
});

Deno.test("ws: did:key challenge-response admits the agent once; a replayed answer is refused", async () => {
  await withNode(async ({ node, agent }) => {
    const first = await WirePeer.open(node.wsUrl);
    const second = await WirePeer.open(node.wsUrl);
    try {
      first.send({ hello: { protocolVersion: 1, did: agent.did } });
      const frame = await first.next();
      assert.equal(frame.kind, "challenge");
      const { nonce, nodeId } = frame.challenge!;
      assert.equal(nodeId, "node-sec");
      const signature = answerChallenge(agent, nodeId!, nonce!);
      first.send({ hello: { protocolVersion: 1, did: agent.did, nonce, signature } });
      const welcome = await first.next();
      assert.equal(welcome.kind, "welcome", JSON.stringify(welcome));
      first.send({
        publish: { correlationId: 1, ack: 1, pulse: { topic: "agents.hi", realityId: "lab" } },
      });
      assert.equal((await first.next()).kind, "ack");
      first.send({
        publish: { correlationId: 2, ack: 1, pulse: { topic: "orders.x", realityId: "lab" } },
      });
      assert.equal(errorOf(await first.next()).code, "FORBIDDEN");

      // The captured answer, replayed on another connection, is refused.
      second.send({ hello: { protocolVersion: 1, did: agent.did, nonce, signature } });
      const replay = errorOf(await second.next());
      assert.equal(replay.code, "UNAUTHORIZED");
      assert.match(replay.message, /replay/);
      // Another key claiming the agent's DID fails too.
      const mallory = generateAgentIdentity();
      second.send({ hello: { protocolVersion: 1, did: agent.did } });
      const c = (await second.next()).challenge!;
      second.send({
        hello: {
          protocolVersion: 1,
          did: agent.did,
          nonce: c.nonce,
          signature: answerChallenge(mallory, c.nodeId!, c.nonce!),
        },
      });
      assert.match(errorOf(await second.next()).message, /does not verify/);
    } finally {
      await first.close();
      await second.close();
    }
  });
});

Deno.test("client SDK: connect with a did:key identity instead of a token", async () => {
  await withNode(async ({ node, agent }) => {
    const client = await ArqonClient.connect(node.wsUrl, { identity: agent, reconnect: false });
    try {
      const ack = await client.publish("agents.ready", "hi", { reality: "lab" });
      assert.equal(ack?.sequence, 1);
      const e = await refusal(client.publish("orders.x", "no", { reality: "lab" }));
      assert.equal(e.code, "FORBIDDEN");
    } finally {
      await client.close();
    }
    const stranger = generateAgentIdentity("ML-DSA-65");
    const e = await refusal(
      ArqonClient.connect(node.wsUrl, { identity: stranger, reconnect: false }),
    );
    assert.equal(e.code, "FORBIDDEN");
    assert.match(e.message, /no permissions on this node/);
  });
});

Deno.test("http: 401 without or with a bad token, 403 outside permissions, 200 inside", async () => {
  await withNode(async ({ node, key }) => {
    const url = `${node.url}/v1/realities/lab/topics/orders.eu.created`;
    const post = async (headers: Record<string, string>, target = url) => {
      const res = await fetch(target, { method: "POST", headers, body: "hello" });
      return { status: res.status, body: await res.json() };
    };
    let r = await post({});
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, "UNAUTHORIZED");
    assert.match(r.body.error.message, /Bearer/);
    r = await post({ authorization: "Bearer not-a-token" });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, "UNAUTHORIZED");
    const token = await issueToken(key, aliceGrants);
    const auth = { authorization: `Bearer ${token}` };
    r = await post(auth);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.sequence, 1);
    r = await post(auth, `${node.url}/v1/realities/lab/topics/orders.secret.keys`);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, "FORBIDDEN");
    r = await post(auth, `${node.url}/v1/realities/prod/topics/orders.eu.created`);
    assert.equal(r.status, 403);
    // /metrics needs an operator (or admin) token on a node that requires auth.
    const operator = await issueToken(key, { subject: "prometheus", roles: ["operator"] });
    const metrics = await (await fetch(`${node.url}/metrics`, {
      headers: { authorization: `Bearer ${operator}` },
    })).text();
    assert.match(metrics, /arqon_auth_refusals_total\{transport="http",code="UNAUTHORIZED"\} 2/);
    assert.match(metrics, /arqon_auth_refusals_total\{transport="http",code="FORBIDDEN"\} 2/);
  });
});

Deno.test("http: admins issue audited tokens at POST /v1/tokens; others get 403", async () => {
  await withNode(async ({ node, key }) => {
    const post = (token: string, body: unknown) =>
      fetch(`${node.url}/v1/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    const admin = await issueToken(key, { subject: "root", roles: ["admin"] });
    const res = await post(admin, { subject: "svc-7", realities: ["lab"], ttlSeconds: 60 });
    assert.equal(res.status, 201);
    const { token } = await res.json();
    const svc = await ArqonClient.connect(node.wsUrl, { token, reconnect: false });
    await svc.close();

    const client = await issueToken(key, { subject: "bob", realities: ["lab"] });
    const denied = await post(client, { subject: "bob-admin", roles: ["admin"] });
    assert.equal(denied.status, 403);
    assert.equal((await denied.json()).error.code, "FORBIDDEN");
    const bad = await post(admin, { subject: "x", roles: ["root"] });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, "INVALID_ARGUMENT");

    const issued = node.audit.list().filter((e) => e.action === "token.issue");
    assert.equal(issued.length, 1);
    assert.equal(issued[0].actor, "root");
    assert.equal(issued[0].details.subject, "svc-7");
    assert.ok(node.audit.verify().ok);
  });
});

Deno.test("http: realities API — admin-only changes (audited), reads within grants", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-auth-realities-" });
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  const node = await startNode({
    port: 0,
    log: "quiet",
    dataDir: `${dir}/data`,
    authKey: `${dir}/node.key`,
  });
  try {
    const admin = await issueToken(key, { subject: "root", roles: ["admin"] });
    const alice = await issueToken(key, aliceGrants);
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await fetch(`${node.url}/v1/realities${path}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, text };
    };
    const store = [{ pattern: ">" }];
    assert.equal((await call("POST", "", alice, { name: "lab", retention: store })).status, 403);
    assert.equal((await call("POST", "", admin, { name: "lab", retention: store })).status, 201);
    assert.equal((await call("POST", "", admin, { name: "prod", retention: store })).status, 201);
    await fetch(`${node.url}/v1/realities/lab/topics/orders.a`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice}` },
      body: "a",
    });
    // Reads: her reality yes, another no; history only for patterns she may subscribe to.
    assert.equal((await call("GET", "/lab", alice)).status, 200);
    assert.equal((await call("GET", "/prod", alice)).status, 403);
    const history = await call("GET", "/lab/history?pattern=orders.*", alice);
    assert.equal(history.status, 200);
    assert.match(history.text, /orders\.a/);
    assert.equal((await call("GET", "/lab/history", alice)).status, 403);
    assert.equal((await call("GET", "/prod/history?pattern=orders.*", alice)).status, 403);
    // The same rules over WebSocket history.get.
    const ws = await ArqonClient.connect(node.wsUrl, { token: alice, reconnect: false });
    try {
      const mine = await ws.history({ reality: "lab", pattern: "orders.*" });
      assert.deepEqual(mine.map((p) => p.topic), ["orders.a"]);
      for (const query of [{ reality: "prod", pattern: "orders.*" }, { reality: "lab" }]) {
        await assert.rejects(
          ws.history(query),
          (e) => e instanceof BusError && e.code === "FORBIDDEN",
        );
      }
    } finally {
      await ws.close();
    }
    assert.equal((await call("DELETE", "/lab", alice)).status, 403);
    assert.equal((await call("DELETE", "/prod", admin)).status, 204);
    const actions = node.audit.list().map((e) => `${e.action}:${e.details.reality}`);
    assert.deepEqual(actions.filter((a) => a.startsWith("reality.")), [
      "reality.create:lab",
      "reality.create:prod",
      "reality.delete:prod",
    ]);
  } finally {
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ws: request/reply works under auth; the responder needs no publish grant", async () => {
  await withNode(async ({ node, key }) => {
    const requester = await ArqonClient.connect(node.wsUrl, {
      token: await issueToken(key, {
        subject: "asker",
        realities: ["lab"],
        publish: { allow: ["svc.*"] },
      }),
      reconnect: false,
    });
    const responder = await ArqonClient.connect(node.wsUrl, {
      token: await issueToken(key, {
        subject: "echo",
        realities: ["lab"],
        publish: { allow: [] },
        subscribe: { allow: ["svc.echo"] },
      }),
      reconnect: false,
    });
    try {
      const sub = responder.subscribe("svc.echo", {
        reality: "lab",
        onPulse: (p) => void responder.reply(p, `echo:${new TextDecoder().decode(p.payload!)}`),
      });
      await sub.ready;
      const reply = await requester.request("svc.echo", "hi", { reality: "lab", timeoutMs: 3000 });
      assert.equal(new TextDecoder().decode(reply.payload!), "echo:hi");
      assert.equal(reply.producerId, "echo");
      const e = await refusal(responder.publish("svc.echo", "not a reply", { reality: "lab" }));
      assert.equal(e.code, "FORBIDDEN");
    } finally {
      await requester.close();
      await responder.close();
    }
  });
});

Deno.test("http: a did:key agent signs a challenge for a short-lived token; replay refused", async () => {
  await withNode(async ({ node, agent }) => {
    const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
    const challenge = await (await fetch(`${node.url}/v1/auth/challenge`, { method: "POST" }))
      .json();
    assert.equal(challenge.nodeId, "node-sec");
    const nonce = Uint8Array.from(atob(challenge.nonce), (ch) => ch.charCodeAt(0));
    const answer = {
      did: agent.did,
      nonce: challenge.nonce,
      signature: b64(answerChallenge(agent, challenge.nodeId, nonce)),
    };
    const exchange = () =>
      fetch(`${node.url}/v1/auth/did`, { method: "POST", body: JSON.stringify(answer) });
    const res = await exchange();
    assert.equal(res.status, 201);
    const { token } = await res.json();
    const ok = await fetch(`${node.url}/v1/realities/lab/topics/agents.hello`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: "hi",
    });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const replay = await exchange();
    assert.equal(replay.status, 401);
    assert.match((await replay.json()).error.message, /replay/);
    const issued = node.audit.list().filter((e) => e.action === "token.issue");
    assert.equal(issued.length, 1);
    assert.equal(issued[0].actor, agent.did);
  });
});
