/**
 * The `critical` lane is a grant: a real node with token auth, clients writing raw
 * protobuf frames and raw HTTP. A token without the grant gets FORBIDDEN for a critical
 * publish, request or connection default, and nothing it was refused is delivered.
 */
import assert from "node:assert/strict";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { F, msg, num, pb, type PbField, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { withNode } from "./support/node.ts";

const FORBIDDEN = 12;

function publish(correlationId: number, topic: string, tag: string, lane: number): Uint8Array {
  const pulse: PbField[] = [[3, topic], [5, "lab"], [11, tag]];
  if (lane) pulse.push([19, lane]);
  return pb([[F.publish, [[1, correlationId], [2, 1], [3, pulse]]]]);
}

async function connect(url: string, token: string, lane = 0): Promise<RawSocket> {
  const s = await RawSocket.open(url, "arqon.v1.proto");
  const hello: PbField[] = [[1, "lanes-auth"], [2, 1], [4, token]];
  if (lane) hello.push([34, lane]);
  s.send(pb([[F.hello, hello]]));
  await s.until(() => s.of(F.welcome).length + s.of(F.error).length > 0, "hello answered");
  return s;
}

Deno.test({
  name: "lanes: sending critical needs the token's lane grant (FORBIDDEN without it)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "arqon-lanes-auth-" });
    const key = await writeNodeKeyFile(`${dir}/node.key`);
    try {
      await withNode(async (node) => {
        const plainToken = await issueToken(key, { subject: "plain", realities: ["lab"] });
        const critToken = await issueToken(key, {
          subject: "pager",
          realities: ["lab"],
          lanes: ["critical"],
        });
        const adminToken = await issueToken(key, { subject: "root", roles: ["admin"] });

        const sub = await connect(node.wsUrl, adminToken);
        sub.send(pb([[F.subscribe, [[1, 1], [2, "lab"], [3, ">"], [12, 1]]]]));
        await sub.wait(6);

        const plain = await connect(node.wsUrl, plainToken);
        assert.equal(plain.of(F.welcome).length, 1);
        plain.send(publish(1, "a.b", "plain-critical", 2));
        plain.send(publish(2, "a.b", "plain-bulk", 3));
        plain.send(publish(3, "a.b", "plain-normal", 1));
        plain.send(pb([[F.request, [[1, 4], [2, [[3, "a.b"], [5, "lab"], [19, 2]]], [3, 100]]]]));
        await plain.until(
          () => plain.of(F.ack).length === 2 && plain.of(F.error).length === 2,
          "two acks and two refusals",
        );
        for (const [i, e] of plain.of(F.error).entries()) {
          assert.equal(num(e, 1), FORBIDDEN, str(e, 2));
          assert.equal(num(e, 3), [1, 4][i], "the refusal names the frame");
          assert.match(str(e, 2), /critical/);
        }
        assert.deepEqual(plain.of(F.ack).map((a) => num(a, 1)), [2, 3]);

        // A critical connection default needs the grant too.
        const plainDefault = await connect(node.wsUrl, plainToken, 2);
        assert.equal(plainDefault.of(F.welcome).length, 0);
        assert.equal(num(plainDefault.of(F.error)[0], 1), FORBIDDEN);

        const pager = await connect(node.wsUrl, critToken, 2);
        assert.equal(pager.of(F.welcome).length, 1, "a critical default with the grant");
        pager.send(publish(5, "a.b", "pager-critical", 2));
        pager.send(publish(6, "a.b", "pager-default", 0));
        const admin = await connect(node.wsUrl, adminToken);
        admin.send(publish(7, "a.b", "admin-critical", 2));
        await pager.wait(F.ack, 2);
        await admin.wait(F.ack);

        await sub.until(() => sub.of(F.deliver).length === 5, "five deliveries");
        const seen = sub.of(F.deliver).map((d) => {
          const p = msg(d, 2);
          return `${str(p, 11)}:${num(p, 19)}`;
        });
        assert.deepEqual(seen.sort(), [
          "admin-critical:2",
          "pager-critical:2",
          "pager-default:2",
          "plain-bulk:3",
          "plain-normal:1",
        ]);

        // Lane rules are governance: admin only; tokens ask for lane grants by name.
        const put = (token: string) =>
          fetch(`${node.url}/v1/realities/lab/lanes`, {
            method: "PUT",
            headers: { authorization: `Bearer ${token}` },
            body: JSON.stringify({ rules: [{ pattern: "a.>", lane: "critical" }] }),
          });
        let res = await put(plainToken);
        assert.equal(res.status, 403);
        assert.equal((await res.json()).error.code, "FORBIDDEN");
        res = await put(adminToken);
        assert.equal(res.status, 200, await res.clone().text());
        await res.body?.cancel();
        res = await fetch(`${node.url}/v1/tokens`, {
          method: "POST",
          headers: { authorization: `Bearer ${adminToken}` },
          body: JSON.stringify({ subject: "x", realities: ["lab"], lanes: ["turbo"] }),
        });
        assert.equal(res.status, 400);
        const err = (await res.json()).error;
        assert.equal(err.code, "INVALID_ARGUMENT");
        assert.match(err.message, /lane/);
        for (const s of [sub, plain, plainDefault, pager, admin]) await s.close();
      }, { memory: true, authKey: `${dir}/node.key` });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
