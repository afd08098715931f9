/**
 * Policies deciding the pulses of one batch frame, from a raw WebSocket client (hand-built
 * protobuf frames, no SDK): each pulse gets exactly its own verdict (allow, deny, redact)
 * in a mixed batch, the context a policy sees is marshalled faithfully (non-ASCII, sorted
 * headers), and fuel and memory caps still hold per pulse, with the pulses around a failing
 * one served.
 */
import assert from "node:assert/strict";
import { builtinComponent } from "../casil/mod.ts";
import { testPolicyComponent } from "../casil/build/mod.ts";
import { F, msg, num, pb, type PbField, type PbMessage, str } from "./support/pb.ts";
import type { RawSocket } from "./support/raw_ws.ts";
import { connectRaw as connect, putPolicy as put } from "./support/raw_policies.ts";
import { metric, withNode } from "./support/node.ts";

const POLICY_DENIED = 14;
const enc = new TextEncoder();
const dec = new TextDecoder();

const publish = (corr: number, topic: string, payload: string, extra: PbField[] = []) =>
  pb([[F.publish, [[1, corr], [2, 1], [3, [[3, topic], [11, enc.encode(payload)], ...extra]]]]]);
const batch = (...frames: Uint8Array[]) => pb([[F.batch, frames.map((f) => [1, f] as PbField)]]);
const header = (k: string, v: string): PbField => [9, [[1, k], [2, v]]];

/** Acks and errors by correlation id. */
function answers(s: RawSocket): Map<number, [number, PbMessage]> {
  const out = new Map<number, [number, PbMessage]>();
  for (const [kind, m] of s.received) {
    if (kind === F.ack) out.set(num(m, 1), [kind, m]);
    if (kind === F.error) out.set(num(m, 3), [kind, m]);
  }
  return out;
}

Deno.test("a mixed batch: each pulse gets its own verdict, in order, as published alone", async () => {
  await withNode(async (node) => {
    // Chain on mix.>: echo_context (order 1: allows *.ok, upper-cases *.upper, denies the
    // rest echoing its context), then redact_secrets (order 2).
    await put(node.url, "echo", await testPolicyComponent("echo_context"), "?topic=mix.>&order=1");
    await put(
      node.url,
      "secrets",
      await builtinComponent("redact_secrets"),
      "?topic=mix.>&order=2",
    );
    const sub = await connect(node.wsUrl, "raw-sub");
    sub.send(pb([[F.subscribe, [[1, 1], [3, "mix.>"], [12, 99]]]]));
    await sub.wait(F.subscribed);
    const pub = await connect(node.wsUrl, "raw-pub");

    const frames = [
      publish(1, "mix.a.ok", "plain"),
      publish(2, "mix.b.ok", "mail bob@example.com now"),
      publish(3, "mix.c.deny", "x", [header("b", "2"), header("a", "ü"), [10, "text/plain"]]),
      publish(4, "mix.d.upper", "abc key"),
      publish(5, "mix.e.ok", "card 4111 1111 1111 1111"),
      publish(6, "mix.f.deny", "y"),
      publish(7, "mix.g.ok", "z"),
    ];
    // Once as one batch frame, then the same pulses one frame each: the same verdicts.
    const rounds: Map<number, [number, PbMessage]>[] = [];
    for (const mode of ["batch", "single"] as const) {
      pub.received.length = 0;
      if (mode === "batch") pub.send(batch(...frames));
      else for (const f of frames) pub.send(f);
      await pub.until(() => answers(pub).size === frames.length, `${frames.length} answers`);
      rounds.push(answers(pub));
    }
    for (const got of rounds) {
      const kinds = [1, 2, 3, 4, 5, 6, 7].map((c) => got.get(c)![0]);
      assert.deepEqual(kinds, [F.ack, F.ack, F.error, F.ack, F.ack, F.error, F.ack]);
      const denied = got.get(3)![1];
      assert.equal(num(denied, 1), POLICY_DENIED);
      // The context as the policy saw it: headers sorted by name, non-ASCII intact.
      assert.equal(
        str(denied, 2),
        "echo: default|mix.c.deny|raw-pub|a=ü;b=2;|text/plain|x|{}",
      );
      assert.equal(str(got.get(6)![1], 2), "echo: default|mix.f.deny|raw-pub|||y|{}");
    }
    // Sequences: five accepted per round, consecutive, in publish order.
    const seqs = rounds.map((got) => [1, 2, 4, 5, 7].map((c) => num(got.get(c)![1], 3)));
    assert.deepEqual(seqs, [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]);

    await sub.until(() => sub.of(F.deliver).length === 10, "10 deliveries");
    const delivered = sub.of(F.deliver).map((d) => msg(d, 2));
    const expected = ["plain", "mail [email] now", "ABC KEY", "card [card]", "z"];
    assert.deepEqual(delivered.map((p) => dec.decode(p.get(11)![0] as Uint8Array)), [
      ...expected,
      ...expected,
    ]);
    assert.deepEqual(delivered.map((p) => num(p, 2)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(await metric(node, "arqon_policy_redactions_total", 'policy="secrets"'), 4);
    assert.equal(await metric(node, "arqon_policy_redactions_total", 'policy="echo"'), 2);
    await pub.close();
    await sub.close();
  });
});

Deno.test("fuel and memory caps hold per pulse inside a batch; neighbours are served", async () => {
  await withNode(async (node) => {
    await put(node.url, "loop", await testPolicyComponent("infinite_loop"), "?topic=hostile.loop");
    await put(node.url, "bomb", await testPolicyComponent("memory_bomb"), "?topic=hostile.bomb");
    const pub = await connect(node.wsUrl, "raw-pub");
    const topics = [
      "calm.a",
      "hostile.loop",
      "calm.b",
      "hostile.bomb",
      "calm.c",
      "hostile.loop",
      "hostile.bomb",
      "calm.d",
    ];
    pub.send(batch(...topics.map((t, i) => publish(i + 1, t, `pulse ${i + 1}`))));
    await pub.until(() => answers(pub).size === topics.length, "8 answers");
    const got = answers(pub);
    topics.forEach((topic, i) => {
      const [kind, m] = got.get(i + 1)!;
      if (topic.startsWith("calm")) {
        assert.equal(kind, F.ack, `${topic} acknowledged`);
        return;
      }
      assert.equal(kind, F.error, `${topic} denied`);
      assert.equal(num(m, 1), POLICY_DENIED);
      const why = topic === "hostile.loop" ? /fuel exhausted/ : /memory cap/;
      assert.match(str(m, 2), why);
    });
    const calm = topics.flatMap((t, i) => t.startsWith("calm") ? [num(got.get(i + 1)![1], 3)] : []);
    assert.deepEqual(calm, [1, 2, 3, 4], "the calm pulses are sequenced without gaps");
    // Each failing pulse discarded its instance: two restarts per hostile policy.
    assert.equal(await metric(node, "arqon_policy_instance_restarts_total", 'policy="loop"'), 2);
    assert.equal(await metric(node, "arqon_policy_instance_restarts_total", 'policy="bomb"'), 2);
    await pub.close();
  });
});
