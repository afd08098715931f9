/**
 * Batched policy evaluation end to end: a raw WebSocket client (hand-built protobuf frames,
 * no SDK) publishes batch frames whose pulses a chain of batch-capable policies
 * (redact_secrets, then the batch_hazards test policy) decides in few guest calls. Every
 * pulse keeps its own verdict and its place: redactions exactly where secrets were, acks and
 * deliveries in publish order; a pulse that loops, traps or bursts the memory cap in the
 * middle of a batch is denied with the typed error while the rest of the batch is served.
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

const publish = (corr: number, topic: string, payload: string) =>
  pb([[F.publish, [[1, corr], [2, 1], [3, [[3, topic], [11, enc.encode(payload)]]]]]]);
const batch = (frames: Uint8Array[]) => pb([[F.batch, frames.map((f) => [1, f] as PbField)]]);

/** Acks and errors in the order they arrived, as [correlation id, kind, body]. */
function answers(s: RawSocket): [number, number, PbMessage][] {
  const out: [number, number, PbMessage][] = [];
  for (const [kind, m] of s.received) {
    if (kind === F.ack) out.push([num(m, 1), kind, m]);
    if (kind === F.error) out.push([num(m, 3), kind, m]);
  }
  return out;
}

/** Pulse `i`'s text and what subscribers must get of it (null: denied). */
function sample(i: number): [string, string | null] {
  switch (i % 6) {
    case 0:
      return [`reading ${i} ok`, `reading ${i} ok`];
    case 1:
      return [`mail user${i}@example.com please`, `mail [email] please`];
    case 2:
      return [`pay 4111 1111 1111 1111 #${i}`, `pay [card] #${i}`];
    case 3:
      return [`key sk-abcdefghijklmnopqrstuv${i}xyz end`, `key [api-key] end`];
    case 4:
      return [`UPPER mail a${i}@example.org`, `UPPER MAIL [EMAIL]`];
    default:
      return [`x`.repeat(1000 + i), `x`.repeat(1000 + i)];
  }
}

async function installChain(url: string): Promise<void> {
  await put(url, "secrets", await builtinComponent("redact_secrets"), "?topic=mix.>&order=1");
  await put(url, "hazards", await testPolicyComponent("batch_hazards"), "?topic=mix.>&order=2");
}

Deno.test("batches mixing secrets and clean pulses: every pulse redacted as alone, in order", async () => {
  await withNode(async (node) => {
    await installChain(node.url);
    const sub = await connect(node.wsUrl, "raw-sub");
    sub.send(pb([[F.subscribe, [[1, 1], [3, "mix.>"], [12, 999]]]]));
    await sub.wait(F.subscribed);
    const pub = await connect(node.wsUrl, "raw-pub");
    // Three batch frames of 60 publishes; every seventh goes to a topic no policy is bound
    // to, so the runs of one chain are cut and joined again.
    const expected: string[] = [];
    let corr = 0;
    for (let b = 0; b < 3; b++) {
      const frames: Uint8Array[] = [];
      for (let j = 0; j < 60; j++) {
        const i = b * 60 + j;
        const [text, out] = sample(i);
        if (i % 7 === 6) frames.push(publish(++corr, "free.x", text));
        else {
          frames.push(publish(++corr, `mix.t${b}`, text));
          expected.push(out!);
        }
      }
      pub.send(batch(frames));
    }
    await pub.until(() => answers(pub).length === corr, `${corr} answers`);
    const got = answers(pub);
    assert.deepEqual(got.map(([c]) => c), Array.from({ length: corr }, (_, i) => i + 1));
    assert.ok(got.every(([, kind]) => kind === F.ack), "every pulse acknowledged");
    await sub.until(() => sub.of(F.deliver).length === expected.length, "deliveries");
    const delivered = sub.of(F.deliver).map((d) => msg(d, 2));
    assert.deepEqual(delivered.map((p) => dec.decode(p.get(11)![0] as Uint8Array)), expected);
    // Sequenced in publish order (free.x is another topic in the same reality).
    const seqs = delivered.map((p) => num(p, 2));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    // Decided in batches, and every pulse of mix.> evaluated exactly once by each policy.
    assert.ok(await metric(node, "arqon_policy_batch_calls_total", 'policy="secrets"') >= 3);
    assert.ok(await metric(node, "arqon_policy_batch_calls_total", 'policy="hazards"') >= 3);
    assert.equal(
      await metric(node, "arqon_policy_evaluations_total", 'policy="secrets"'),
      expected.length,
    );
    assert.equal(
      await metric(node, "arqon_policy_evaluations_total", 'policy="hazards"'),
      expected.length,
    );
    await pub.close();
    await sub.close();
  });
});

Deno.test("a pulse that loops, traps or bursts memory mid-batch is denied; the batch is served", async () => {
  await withNode(async (node) => {
    await installChain(node.url);
    const sub = await connect(node.wsUrl, "raw-sub");
    sub.send(pb([[F.subscribe, [[1, 1], [3, "mix.>"], [12, 999]]]]));
    await sub.wait(F.subscribed);
    const pub = await connect(node.wsUrl, "raw-pub");
    const hazards = new Map([[10, "LOOP"], [20, "TRAP"], [25, "BOMB"], [33, "LOOP"]]);
    const frames: Uint8Array[] = [];
    const expected: string[] = [];
    for (let i = 1; i <= 40; i++) {
      const hazard = hazards.get(i);
      const [text, out] = sample(i);
      frames.push(publish(i, "mix.h", hazard ? `${hazard} ${i}` : text));
      if (!hazard) expected.push(out!);
    }
    pub.send(batch(frames));
    await pub.until(() => answers(pub).length === 40, "40 answers");
    const got = answers(pub);
    assert.deepEqual(got.map(([c]) => c), Array.from({ length: 40 }, (_, i) => i + 1));
    for (const [c, kind, m] of got) {
      const hazard = hazards.get(c);
      if (!hazard) {
        assert.equal(kind, F.ack, `pulse ${c} acknowledged`);
        continue;
      }
      assert.equal(kind, F.error, `pulse ${c} denied`);
      assert.equal(num(m, 1), POLICY_DENIED);
      const why = { LOOP: /fuel exhausted/, TRAP: /trap: unreachable/, BOMB: /memory cap/ }[
        hazard as "LOOP" | "TRAP" | "BOMB"
      ];
      assert.match(str(m, 2), why);
      assert.match(str(m, 2), /^policy hazards failed: /);
    }
    // The 36 others keep consecutive sequences and their redactions, in order.
    const acks = got.filter(([, kind]) => kind === F.ack).map(([, , m]) => num(m, 3));
    assert.deepEqual(acks, Array.from({ length: 36 }, (_, i) => i + 1));
    await sub.until(() => sub.of(F.deliver).length === 36, "36 deliveries");
    const delivered = sub.of(F.deliver).map((d) => dec.decode(msg(d, 2).get(11)![0] as Uint8Array));
    assert.deepEqual(delivered, expected);
    // Each failing pulse is reported as alone (one restart each); the batch fell back.
    assert.equal(await metric(node, "arqon_policy_instance_restarts_total", 'policy="hazards"'), 4);
    assert.ok(await metric(node, "arqon_policy_batch_fallbacks_total", 'policy="hazards"') >= 1);
    // The node serves another client, and the same connection, afterwards.
    const other = await connect(node.wsUrl, "raw-other");
    other.send(
      batch([publish(1, "mix.after", "mail z@example.com"), publish(2, "mix.after", "ok")]),
    );
    await other.until(() => answers(other).length === 2, "2 answers");
    assert.deepEqual(answers(other).map(([, kind]) => kind), [F.ack, F.ack]);
    await sub.until(() => sub.of(F.deliver).length === 38, "38 deliveries");
    assert.equal(
      dec.decode(msg(sub.of(F.deliver)[36], 2).get(11)![0] as Uint8Array),
      "mail [email]",
    );
    await other.close();
    await pub.close();
    await sub.close();
  });
});
