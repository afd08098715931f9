/**
 * Shared governance across nodes, end to end: a real `nats-server -js` and ArqonBus nodes
 * as child processes on ephemeral ports, used over HTTP with `fetch` and raw WebSocket
 * frames (no SDK). A policy, control parameters, a ban and a token revocation made on one
 * node take effect on the other; a node started later loads them all.
 */
import assert from "node:assert/strict";
import { errorCodeName } from "../runtime/protocol/mod.ts";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { startJetStream } from "./support/jetstream_server.ts";
import { type GovernedNode, spawnGovernedNode } from "./support/governed_nodes.ts";
import { WirePeer } from "./security_wire.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { testOperatorComponent } from "../operators/build/mod.ts";

/** Polls `probe` until it returns true; returns how long it took (ms), throws after 30 s (a loaded machine instruments Wasm slowly). */
async function eventually(probe: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  while (!(await probe())) {
    if (performance.now() - t0 > 30_000) throw new Error("not propagated within 30 s");
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - t0;
}

Deno.test("governance made on one node applies on the others; a late node loads it", async () => {
  const server = await startJetStream();
  const dir = await Deno.makeTempDir({ prefix: "arqon-gov-" });
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  const args = [
    "--auth-key",
    `${dir}/node.key`,
    "--rate-pulses",
    "1000",
    "--rate-kick",
    "100",
    "--ban-seconds",
    "300",
  ];
  const nodes: GovernedNode[] = [];
  try {
    const [a, b] = await Promise.all([
      spawnGovernedNode(server.url, args),
      spawnGovernedNode(server.url, args),
    ]);
    nodes.push(a, b);
    const admin = await issueToken(key, { subject: "root", roles: ["admin"] });
    const auth = { authorization: `Bearer ${admin}` };
    const ok = async (res: Promise<Response>) => {
      const r = await res;
      await r.body?.cancel();
      return r.status;
    };
    const publish = (node: GovernedNode, topic: string, body: string, token = admin) =>
      fetch(`${node.url}/v1/realities/lab/topics/${topic}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body,
      });
    const denied = async (node: GovernedNode) => {
      const res = await publish(node, "sensors.temp", "x".repeat(100));
      const body = await res.json();
      return res.status === 403 && body.error.code === "POLICY_DENIED";
    };
    const figures: Record<string, number> = {};

    // 1. A policy installed on A denies on B.
    assert.equal(await denied(b), false);
    const install = await fetch(
      `${a.url}/v1/policies/size?builtin=payload_size_cap&reality=lab&config=${
        encodeURIComponent('{"max_bytes":64}')
      }`,
      { method: "PUT", headers: auth },
    );
    assert.equal(install.status, 201, await install.text());
    figures.policy = await eventually(() => denied(b));
    const onB = await (await fetch(`${b.url}/v1/policies/size`, { headers: auth })).json();
    assert.equal(onB.version, 1);
    assert.equal(onB.available, true);
    assert.equal(await ok(publish(b, "sensors.temp", "small")), 200);
    // Rebound on B (now only for another reality): A stops denying lab.
    const rebind = await fetch(`${b.url}/v1/policies/size/binding`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ realities: ["other"] }),
    });
    assert.equal(rebind.status, 200, await rebind.text());
    figures.rebind = await eventually(async () => !(await denied(a)));
    // And back, for the late node below.
    const back = await fetch(`${a.url}/v1/policies/size/binding`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ realities: ["lab"] }),
    });
    assert.equal(back.status, 200, await back.text());
    await eventually(() => denied(b));

    // 2. Control parameters set on A are B's.
    const set = await publish(a, "sys.control.set", JSON.stringify({ params: { gain: 7 } }));
    assert.equal(set.status, 200, await set.text());
    figures.params = await eventually(async () => {
      const res = await fetch(`${b.url}/v1/realities/lab/params`, { headers: auth });
      const body = await res.json();
      return res.status === 200 && body.params.gain === 7;
    });

    // 3. A client banned on A (kicked for flooding over raw WebSocket) is refused by B.
    const mallory = await issueToken(key, {
      subject: "mallory",
      realities: ["lab"],
      publish: { allow: ["flood.>"] },
      subscribe: { allow: ["flood.>"] },
    });
    const flood = await WirePeer.open(a.wsUrl);
    flood.send({ hello: { protocolVersion: 1, token: mallory } });
    assert.equal((await flood.next()).kind, "welcome");
    flood.send({
      batch: {
        frames: Array.from({ length: 3000 }, () => ({
          publish: { correlationId: 0, ack: 0, pulse: { topic: "flood.x", realityId: "lab" } },
        })),
      },
    });
    assert.equal((await flood.closed).code, 1008);
    figures.ban = await eventually(async () => {
      const res = await publish(b, "flood.x", "again", mallory);
      const body = await res.json();
      return res.status === 403 && /banned/.test(body.error.message);
    });
    const peer = await WirePeer.open(b.wsUrl);
    peer.send({ hello: { protocolVersion: 1, token: mallory } });
    const refused = await peer.next();
    assert.equal(refused.kind, "error");
    assert.equal(errorCodeName(refused.error!.code ?? 0), "FORBIDDEN");
    await peer.close();

    // 4. A token revoked on A is refused by B; others still pass.
    const bob = await issueToken(key, { subject: "bob", realities: ["lab"] });
    const carol = await issueToken(key, { subject: "carol", realities: ["lab"] });
    assert.equal(await ok(publish(b, "sensors.temp", "hi", bob)), 200);
    const revoke = await fetch(`${a.url}/v1/tokens/revoke`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ subject: "bob" }),
    });
    assert.equal(revoke.status, 200, await revoke.text());
    figures.revocation = await eventually(async () => {
      const res = await publish(b, "sensors.temp", "hi", bob);
      await res.body?.cancel();
      return res.status === 401;
    });
    assert.equal(await ok(publish(b, "sensors.temp", "hi", carol)), 200);
    const bad = await fetch(`${a.url}/v1/tokens/revoke`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ jti: "x", subject: "y" }),
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, "INVALID_ARGUMENT");

    // 5. The audit log is one chain: both nodes write at once, any node verifies it.
    await Promise.all(
      [a, b].flatMap((n, k) =>
        Array.from(
          { length: 15 },
          (_, i) =>
            ok(publish(n, "sys.control.set", JSON.stringify({ params: { [`p${k}`]: i } })))
              .then((status) => assert.equal(status, 200)),
        )
      ),
    );
    type Entry = { seq: number; action: string; details: Record<string, unknown> };
    const chain = async (node: GovernedNode) => {
      const entries: Entry[] = [];
      for (let from: number | null = 1; from !== null;) {
        const page = await (await fetch(`${node.url}/v1/audit?from=${from}&limit=1000`, {
          headers: auth,
        })).json() as { entries: Entry[]; next: number | null };
        entries.push(...page.entries);
        from = page.next;
      }
      return entries;
    };
    await eventually(async () =>
      (await chain(b)).filter((e) => e.action === "control.set").length === 31
    );
    const entries = await chain(a);
    assert.deepEqual(entries.map((e) => e.seq), entries.map((_, i) => i + 1));
    // Entries of both nodes, each once: 31 parameter changes, the policy, the revocation.
    assert.equal(entries.filter((e) => e.action === "control.set").length, 31);
    assert.equal(entries.filter((e) => e.action === "policy.publish").length, 1);
    assert.equal(entries.filter((e) => e.action === "policy.bind").length, 2);
    assert.equal(entries.filter((e) => e.action === "token.revoke").length, 1);
    assert.equal(new Set(entries.map((e) => e.details.node)).size, 2);
    for (const node of [a, b]) {
      const verdict = await (await fetch(`${node.url}/v1/audit/verify`, { headers: auth })).json();
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
      assert.equal(verdict.entries >= entries.length, true);
    }

    // 6. A node started later loads all of it before it serves.
    const c = await spawnGovernedNode(server.url, args);
    nodes.push(c);
    assert.equal(await denied(c), true);
    const params = await (await fetch(`${c.url}/v1/realities/lab/params`, { headers: auth }))
      .json();
    assert.equal(params.params.gain, 7);
    const banned = await publish(c, "flood.x", "again", mallory);
    assert.equal(banned.status, 403);
    await banned.body?.cancel();
    const revoked = await publish(c, "sensors.temp", "hi", bob);
    assert.equal(revoked.status, 401);
    await revoked.body?.cancel();
    console.log(
      `propagation (ms): ${
        JSON.stringify(figures, (_, v) => typeof v === "number" ? Math.round(v) : v)
      }`,
    );

    // 7. NATS gone: a governance change is refused with a typed error, nothing installed.
    await server.stop();
    const refusedInstall = await fetch(
      `${a.url}/v1/policies/other?builtin=payload_size_cap&reality=lab`,
      { method: "PUT", headers: auth },
    );
    assert.equal(refusedInstall.status, 503, await refusedInstall.clone().text());
    assert.equal((await refusedInstall.json()).error.code, "GOVERNANCE_UNAVAILABLE");
    const list = await (await fetch(`${a.url}/v1/policies`, { headers: auth })).json();
    assert.deepEqual(list.policies.map((p: { name: string }) => p.name), ["size"]);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an operator runs on one node, holding its lease; SIGKILL that node and another takes over", async () => {
  const server = await startJetStream();
  const nodes: GovernedNode[] = [];
  try {
    const [a, b] = await Promise.all([
      spawnGovernedNode(server.url),
      spawnGovernedNode(server.url),
    ]);
    nodes.push(a, b);
    const status = async (node: GovernedNode) => {
      const res = await fetch(`${node.url}/v1/operators/echo1`);
      return res.status === 200 ? (await res.json()).status as string : `http ${res.status}`;
    };
    const install = await fetch(`${a.url}/v1/operators/echo1`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        builtin: "echo",
        reality: "lab",
        inputs: ["in.>"],
        config: { to: "out.echo" },
      }),
    });
    assert.equal(install.status, 201, await install.text());
    // Installed on both, running on exactly one: the lease holder (here, the installer).
    await eventually(async () => (await status(b)) === "standby");
    assert.equal(await status(a), "running");

    // A circuit installed on A is B's too (its stage operator shared like any operator).
    const circuit = await fetch(`${a.url}/v1/realities/lab/circuits/bridge`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        stages: [{
          operator: { builtin: "echo", config: { to: "c.out" } },
          in: "c.in",
          out: "c.out",
        }],
      }),
    });
    assert.equal(circuit.status, 201, await circuit.text());
    await eventually(async () => {
      const res = await fetch(`${b.url}/v1/realities/lab/circuits/bridge`);
      const body = await res.json();
      return res.status === 200 && body.stages.length === 1;
    });

    // A subscriber on B (raw WebSocket, JSON frames) counts the outputs.
    const sub = await RawSocket.open(b.wsUrl, "arqon.v1.json");
    sub.send(JSON.stringify({ hello: { clientName: "watch", protocolVersion: 1 } }));
    await sub.until(() => sub.json.some((f) => f.welcome), "welcome");
    sub.send(JSON.stringify({
      subscribe: { subscriptionId: 1, realityId: "lab", pattern: "out.>", correlationId: "1" },
    }));
    await sub.until(() => sub.json.some((f) => f.subscribed), "subscribed");
    const outputs = () =>
      sub.json.filter((f) => f.deliver).map((f) =>
        atob((f.deliver as { pulse: { payload: string } }).pulse.payload)
      );
    const feed = async (node: GovernedNode, from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const res = await fetch(`${node.url}/v1/realities/lab/topics/in.x`, {
          method: "POST",
          body: `m${i}`,
        });
        assert.equal(res.status, 200, await res.text());
      }
    };
    await feed(b, 0, 20);
    await sub.until(() => outputs().length === 20, "20 outputs");

    // SIGKILL the node running it: B takes it over once A's lease expires.
    const t0 = performance.now();
    await a.stop("SIGKILL");
    nodes.splice(0, 1);
    // Inputs published while nobody runs it wait in the group's durable consumer.
    await feed(b, 20, 30);
    await eventually(async () => (await status(b)) === "running");
    const takeover = performance.now() - t0;
    await feed(b, 30, 40);
    await sub.until(() => outputs().length >= 40, "40 outputs");
    // Each input's output exactly once (none skipped, none twice), in order.
    assert.deepEqual(outputs(), Array.from({ length: 40 }, (_, i) => `m${i}`));
    console.log(`operator takeover after SIGKILL: ${Math.round(takeover)} ms`);
    await sub.close();
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await server.stop();
  }
});

Deno.test("a stateful operator taken over after SIGKILL goes on from the committed state", () =>
  statefulTakeover(false));

Deno.test(
  "inputs a stateful operator had in flight when its node was killed are handled once, in order",
  () => statefulTakeover(true),
);

/**
 * Installs a counter on A, feeds it 1..20 through B, SIGKILLs A (with `inFlight`, right
 * after feeding 21..25, so A dies holding inputs unacknowledged or outputs whose state
 * commit did not reach the cluster), and checks that B's sums go on exactly from A's.
 */
async function statefulTakeover(inFlight: boolean): Promise<void> {
  const server = await startJetStream();
  const nodes: GovernedNode[] = [];
  const nc = await connect({ servers: server.url });
  try {
    const [a, b] = await Promise.all([
      spawnGovernedNode(server.url),
      spawnGovernedNode(server.url),
    ]);
    nodes.push(a, b);
    const form = new FormData();
    form.append("component", new Blob([await testOperatorComponent("counter")]), "op.wasm");
    form.append("manifest", JSON.stringify({ reality: "lab", inputs: ["nums.>"] }));
    const install = await fetch(`${a.url}/v1/operators/sum`, { method: "PUT", body: form });
    assert.equal(install.status, 201, await install.text());
    const status = async (node: GovernedNode) =>
      (await (await fetch(`${node.url}/v1/operators/sum`)).json()).status;
    await eventually(async () => (await status(b)) === "standby");

    const sub = await RawSocket.open(b.wsUrl, "arqon.v1.json");
    sub.send(JSON.stringify({ hello: { clientName: "watch", protocolVersion: 1 } }));
    await sub.until(() => sub.json.some((f) => f.welcome), "welcome");
    sub.send(JSON.stringify({
      subscribe: { subscriptionId: 1, realityId: "lab", pattern: "sums.>", correlationId: "1" },
    }));
    await sub.until(() => sub.json.some((f) => f.subscribed), "subscribed");
    const sums = () =>
      sub.json.filter((f) => f.deliver).map((f) =>
        JSON.parse(atob((f.deliver as { pulse: { payload: string } }).pulse.payload)).sum
      );
    let last = 0;
    const feed = async (from: number, to: number) => {
      for (let i = from; i <= to; i++) {
        const res = await fetch(`${b.url}/v1/realities/lab/topics/nums.in`, {
          method: "POST",
          body: String(i),
        });
        assert.equal(res.status, 200);
        last = Number((await res.json()).sequence);
      }
    };
    await feed(1, 20);
    await sub.until(() => sums().length === 20, "20 sums");
    // The holder's state commit for the last input reached the cluster (ARQON_OPSTATE).
    const kv = await new Kvm(nc).open("ARQON_OPSTATE");
    const seqKey = `${btoa("sum").replace(/=+$/, "")}.${btoa("_seq").replace(/=+$/, "")}`;
    await eventually(async () => Number((await kv.get(seqKey))?.string() ?? 0) === last);

    if (inFlight) await feed(21, 25);
    await a.stop("SIGKILL");
    nodes.splice(0, 1);
    // Published while nobody runs it: handled by the node that takes it over.
    if (!inFlight) await feed(21, 25);
    await eventually(async () => (await status(b)) === "running");
    await feed(26, 30);
    await sub.until(() => sums().length >= 30, "30 sums");
    // The sum goes on from 210 (the state moved with the operator), no input skipped or
    // handled twice, in order: an output A published before its state commit reached the
    // cluster is derived again by B with the same id, and stored once.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(sums(), Array.from({ length: 30 }, (_, i) => ((i + 1) * (i + 2)) / 2));
    await sub.close();
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await nc.close();
    await server.stop();
  }
}
