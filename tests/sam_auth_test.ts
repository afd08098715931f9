/**
 * The SAM handshake with authentication on: the producer id a card is kept under is the
 * token's subject, a card may only list realities the token grants, and the agents list
 * is a reality read (401 without a token, 403 outside the grants).
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { F, num, pb, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";

Deno.test("with auth: cards are kept under the token's subject, within its realities", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-sam-auth-" });
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  const node = await startNode({
    port: 0,
    log: "quiet",
    memory: true,
    shutdownGraceMs: 500,
    authKey: `${dir}/node.key`,
  });
  try {
    const alice = await issueToken(key, {
      subject: "alice",
      realities: ["lab"],
      publish: { allow: [">"] },
      subscribe: { allow: [">"] },
    });
    const hello = async (card: unknown) => {
      const s = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
      s.send(
        pb([[F.hello, [[1, "claims-to-be-bob"], [2, 1], [4, alice], [33, JSON.stringify(card)]]]]),
      );
      await s.until(() => s.of(F.welcome).length + s.of(F.error).length > 0, "answer");
      return s;
    };
    // A card listing a reality outside the grants is refused, no welcome.
    const outside = await hello({ capabilities: [], realities: ["lab", "secret"] });
    assert.equal(outside.of(F.welcome).length, 0);
    assert.equal(num(outside.of(F.error)[0], 1), 12); // FORBIDDEN
    assert.match(str(outside.of(F.error)[0], 2), /secret/);
    await outside.close();

    const s = await hello({
      capabilities: ["lab-sensor"],
      output_schema: { type: "integer" },
      realities: ["lab"],
    });
    assert.equal(s.of(F.welcome).length, 1);
    s.send(pb([[F.publish, [[1, 1], [2, 1], [3, [[3, "lab.t"], [5, "lab"], [11, "1.5"]]]]]]));
    await s.until(() => s.of(F.error).length > 0, "refusal");
    assert.equal(num(s.of(F.error)[0], 1), 24); // SCHEMA_VIOLATION
    assert.match(str(s.of(F.error)[0], 2), /card of alice/);

    const get = (token?: string) =>
      fetch(`${node.url}/v1/realities/lab/agents`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    const anonymous = await get();
    assert.equal(anonymous.status, 401);
    assert.equal((await anonymous.json()).error.code, "UNAUTHORIZED");
    const listed = await get(alice);
    assert.equal(listed.status, 200);
    const body = await listed.json();
    assert.deepEqual(body.agents.map((a: { name: string }) => a.name), ["alice"]);
    const other = await fetch(`${node.url}/v1/realities/secret/agents`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    assert.equal(other.status, 403);
    await s.close();
  } finally {
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
