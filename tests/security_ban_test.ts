/**
 * Bans end to end: a client the node closes for flooding is kept out for `--ban-seconds`
 * by its token subject, over WebSocket and HTTP, while other clients carry on; the ban
 * is counted and audited.
 */
import assert from "node:assert/strict";
import { type ArqonNode, startNode } from "../mod.ts";
import { errorCodeName } from "../runtime/protocol/mod.ts";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { WirePeer } from "./security_wire.ts";

const grants = (subject: string) => ({
  subject,
  realities: ["lab"],
  publish: { allow: ["flood.>"] },
  subscribe: { allow: ["flood.>"] },
});

async function hello(node: ArqonNode, token: string): Promise<WirePeer> {
  const peer = await WirePeer.open(node.wsUrl);
  peer.send({ hello: { protocolVersion: 1, token } });
  return peer;
}

Deno.test("a client kicked for flooding is banned by subject; others carry on; audited", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-ban-" });
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  const node = await startNode({
    port: 0,
    log: "quiet",
    memory: true,
    authKey: `${dir}/node.key`,
    ratePulses: 10,
    rateKick: 100,
    banSeconds: 30,
  });
  try {
    const mallory = await issueToken(key, grants("mallory"));
    const alice = await issueToken(key, grants("alice"));
    const admin = await issueToken(key, { subject: "root", roles: ["admin"] });

    const flood = await hello(node, mallory);
    assert.equal((await flood.next()).kind, "welcome");
    const frames = Array.from({ length: 300 }, () => ({
      publish: { correlationId: 0, ack: 0, pulse: { topic: "flood.x", realityId: "lab" } },
    }));
    flood.send({ batch: { frames } });
    assert.equal((await flood.closed).code, 1008);

    // Back at once with the same subject: refused at hello, with a reason.
    const again = await hello(node, mallory);
    const refused = await again.next();
    assert.equal(refused.kind, "error");
    assert.equal(errorCodeName(refused.error!.code ?? 0), "FORBIDDEN");
    assert.match(refused.error!.message ?? "", /banned for \d+ s more/);
    // Over HTTP too.
    const res = await fetch(`${node.url}/v1/realities/lab/topics/flood.x`, {
      method: "POST",
      headers: { authorization: `Bearer ${mallory}` },
      body: "again",
    });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error.code, "FORBIDDEN");

    // Another subject is not affected.
    const fine = await hello(node, alice);
    assert.equal((await fine.next()).kind, "welcome");

    const metrics = await (await fetch(`${node.url}/metrics`, {
      headers: { authorization: `Bearer ${admin}` },
    })).text();
    assert.match(metrics, /arqon_bans_total\{transport="ws"\} 1/);
    const audit = await (await fetch(`${node.url}/v1/audit`, {
      headers: { authorization: `Bearer ${admin}` },
    })).json() as { entries: { action: string; details: Record<string, unknown> }[] };
    const ban = audit.entries.find((e) => e.action === "connection.ban");
    assert.equal(ban?.details.client, "id:mallory", JSON.stringify(audit.entries));
    assert.match(String(ban?.details.reason), /rate limit exceeded/);
    for (const p of [again, fine]) await p.close();
  } finally {
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
