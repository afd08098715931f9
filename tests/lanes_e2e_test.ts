/**
 * Latency lanes end to end: a real node on port 0, clients writing raw protobuf frames
 * (tests/support/pb.ts, not the node's codec) and raw HTTP. Asserts the order of
 * deliveries and the typed errors, never timings.
 */
import assert from "node:assert/strict";
import { F, num, type PbField, type PbMessage, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { metric, sleep, withNode } from "./support/node.ts";
import { binaryFrame, RawTcpWs } from "./adversarial/support.ts";
import { concat, frames, msg, pb } from "./support/pb.ts";

/** Error codes of arqon.proto used here. */

const INVALID_ARGUMENT = 19;

/** A publish frame's fields: pulse on `topic` with `lane` (0: none named). */
function publish(
  correlationId: number,
  topic: string,
  payload: string | Uint8Array,
  lane = 0,
  ack = 0,
): PbField {
  const pulse: PbField[] = [[3, topic], [11, payload]];
  if (lane) pulse.push([19, lane]);
  return [F.publish, [[1, correlationId], [2, ack], [3, pulse]]];
}

/** The deliveries in `binary` server messages, as [topic, payload text start, lane]. */
function deliveries(binary: Uint8Array[]): { topic: string; tag: string; lane: number }[] {
  const out: { topic: string; tag: string; lane: number }[] = [];
  for (const b of binary) {
    for (const [kind, m] of frames(b)) {
      if (kind !== F.deliver) continue;
      const p = msg(m, 2);
      const payload = p.get(11)?.[0] as Uint8Array | undefined;
      const tag = new TextDecoder().decode(payload?.subarray(0, 16) ?? new Uint8Array()).split(
        " ",
      )[0];
      out.push({ topic: str(p, 3), tag, lane: num(p, 19) });
    }
  }
  return out;
}

/** Length-delimited field `n` holding `bytes` (pb() copies through number arrays: slow at 64 KiB). */
function lenField(n: number, bytes: Uint8Array): Uint8Array {
  const head: number[] = [];
  for (let v = (n << 3) | 2;; v >>>= 7) {
    if (v < 0x80) {
      head.push(v);
      break;
    }
    head.push((v & 0x7f) | 0x80);
  }
  for (let v = bytes.length;; v >>>= 7) {
    if (v < 0x80) {
      head.push(v);
      break;
    }
    head.push((v & 0x7f) | 0x80);
  }
  return concat(Uint8Array.from(head), bytes);
}

/** A publish frame (ack none) of a large payload, built without pb()'s number arrays. */
function bigPublish(topic: string, payload: Uint8Array, lane: number): Uint8Array {
  const pulse = concat(pb([[3, topic], [19, lane]]), lenField(11, payload));
  return lenField(F.publish, concat(pb([[1, 0], [2, 0]]), lenField(3, pulse)));
}

/** A payload of `size` bytes that starts with `tag` and a space. */
function tagged(tag: string, size: number): Uint8Array {
  const out = new Uint8Array(size).fill(0x2e);
  out.set(new TextEncoder().encode(tag + " "));
  return out;
}

function errors(s: RawSocket): PbMessage[] {
  return s.of(F.error);
}

Deno.test({
  name: "lanes: a subscriber that reads slowly gets critical pulses ahead of a bulk backlog",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withNode(async (node) => {
      const sub = await RawTcpWs.open(node.port);
      await sub.write(binaryFrame([[F.hello, [[1, "slow-sub"], [2, 1]]]]));
      await sub.write(binaryFrame([[F.subscribe, [[1, 1], [3, "work.>"], [12, 7]]]]));
      // Not read now: a read left pending at its deadline would swallow what comes next.
      await sleep(200);
      const pub = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
      pub.send(pb([[F.hello, [[1, "bulk-pub"], [2, 1]]]]));
      try {
        await pub.wait(F.welcome);
        // 3000 x 8 KiB of bulk: far more than the high-water mark and the socket buffers
        // hold, so most of it waits in the subscription's bulk lane.
        const BULK = 3000;
        for (let i = 0; i < BULK; i++) {
          pub.send(bigPublish("work.bulk", tagged(`b${i}`, 8 * 1024), 3));
        }
        for (let i = 0; i < 5; i++) {
          pub.send(pb([publish(100 + i, "work.alert", tagged(`c${i}`, 100), 2, 1)]));
        }
        await pub.until(() => pub.of(F.ack).length === 5, "acks of the critical pulses", 30_000)
          .catch((e) => {
            console.log(pub.received.map(([k, m]) => [k, str(m, 2)]), pub.closeCode);
            throw e;
          });
        assert.deepEqual(errors(pub), [], "no refusals");
        // Now the subscriber reads everything the node has for it.
        const read = await sub.readUntilClose(12_000, true);
        const got = deliveries(read.binary);
        assert.ok(
          read.binary.some((b) => frames(b).some(([k]) => k === 6)),
          "the subscription was confirmed",
        );
        const crit = got.map((d, i) => [d.tag, i] as const).filter(([t]) => t.startsWith("c"));
        assert.deepEqual(
          crit.map(([t]) => t),
          ["c0", "c1", "c2", "c3", "c4"],
          "criticals in order",
        );
        const firstCrit = crit[0][1];
        // Contiguous: nothing came between the critical pulses.
        assert.deepEqual(crit.map(([, i]) => i), [0, 1, 2, 3, 4].map((k) => firstCrit + k));
        const bulk = got.filter((d) => d.tag.startsWith("b")).map((d) => Number(d.tag.slice(1)));
        // What was read within the deadline is a prefix of the bulk stream, none dropped.
        assert.ok(bulk.length > firstCrit, `bulk pulses read after the critical ones`);
        assert.deepEqual(bulk, bulk.map((_, i) => i), "bulk pulses in order, none missing");
        assert.equal(await metric(node, "arqon_lane_deliveries_dropped_total"), 0, "no drops");
        const bulkAfter = got.length - (firstCrit + 5);
        console.log(`  ${firstCrit} bulk before the critical pulses, ${bulkAfter} after`);
        assert.ok(bulkAfter > 0, "the critical pulses overtook bulk pulses published before them");
        assert.ok(got.slice(firstCrit).some((d) => d.tag === "b0") === false, "b0 went first");
        assert.equal(got[firstCrit].lane, 2, "a delivery says its lane");
        assert.equal(got.at(-1)!.lane, 3);
      } finally {
        await pub.close();
        sub.close();
      }
    }, {
      memory: true,
      queueBytes: 256 * 1024 * 1024,
      queueMessages: 100_000,
      // Building 24 MiB of frames blocks this process (and its node) for a while under load.
      helloTimeoutSeconds: 120,
    }),
});

Deno.test({
  name: "lanes: explicit lane, else the reality's rule, else the hello's default, else normal",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withNode(async (node) => {
      // Reality rules over raw HTTP.
      let res = await fetch(`${node.url}/v1/realities/lab/lanes`, {
        method: "PUT",
        body: JSON.stringify({
          rules: [{ pattern: "alerts.>", lane: "critical" }, { pattern: "logs.*", lane: "bulk" }],
        }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      await res.body?.cancel();
      res = await fetch(`${node.url}/v1/realities/lab/lanes`);
      assert.deepEqual(await res.json(), {
        reality: "lab",
        rules: [{ pattern: "alerts.>", lane: "critical" }, { pattern: "logs.*", lane: "bulk" }],
      });
      const sub = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
      const pub = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
      const pubNormal = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
      try {
        sub.send(pb([[F.subscribe, [[1, 1], [2, "lab"], [3, ">"], [12, 1]]]]));
        await sub.wait(6);
        // This connection's default lane is bulk (Hello.lane = 34).
        pub.send(pb([[F.hello, [[1, "lanes-pub"], [2, 1], [34, 3]]]]));
        await pub.wait(F.welcome);
        const cases: [string, number, RawSocket, number][] = [
          ["alerts.fire", 0, pub, 2], // rule beats the connection default
          ["alerts.fire", 1, pub, 1], // explicit beats the rule
          ["logs.app", 0, pub, 3], // rule
          ["other.topic", 0, pub, 3], // connection default
          ["other.topic", 2, pub, 2], // explicit (no grant needed without auth)
          ["other.topic", 0, pubNormal, 0], // nothing: normal (delivered without the field)
          ["alerts.x.y", 0, pubNormal, 2], // rule for a connection without a default
        ];
        cases.forEach(([topic, lane, from], i) => {
          const f = publish(i + 1, topic, `n${i}`, lane, 1);
          (f[1] as PbField[])[2][1] = [...((f[1] as PbField[])[2][1] as PbField[]), [5, "lab"]];
          from.send(pb([f]));
        });
        await sub.until(() => sub.of(F.deliver).length === cases.length, "all deliveries");
        // Lanes reorder only waiting pulses; these were delivered as they came.
        const byTag = new Map(
          sub.of(F.deliver).map((d) => {
            const p = msg(d, 2);
            return [new TextDecoder().decode(p.get(11)![0] as Uint8Array), num(p, 19)];
          }),
        );
        cases.forEach(([topic, lane, , want], i) => {
          assert.equal(byTag.get(`n${i}`), want, `${topic} named lane ${lane}`);
        });
      } finally {
        await sub.close();
        await pub.close();
        await pubNormal.close();
      }
    }, { memory: true }),
});

Deno.test({
  name: "lanes: an unknown lane is a typed error on publish, request, hello, JSON and rules",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withNode(async (node) => {
      const c = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
      const j = await RawSocket.open(node.wsUrl, "arqon.v1.json");
      try {
        c.send(pb([publish(41, "x.y", "p", 7, 1)]));
        c.send(pb([publish(42, "x.y", "p", 0x7fffffff, 1)]));
        c.send(pb([[F.request, [[1, 43], [2, [[3, "x.y"], [19, 4]]], [3, 100]]]]));
        await c.until(() => errors(c).length === 3, "three refusals");
        for (const [i, e] of errors(c).entries()) {
          assert.equal(num(e, 1), INVALID_ARGUMENT, str(e, 2));
          assert.equal(num(e, 3), 41 + i, "the error names the frame");
          assert.match(str(e, 2), /unknown lane/);
        }
        c.send(pb([[F.hello, [[1, "x"], [2, 1], [34, 9]]]]));
        await c.until(() => errors(c).length === 4, "hello refused");
        assert.equal(num(errors(c)[3], 1), INVALID_ARGUMENT);
        // Still served: a normal publish is acknowledged.
        c.send(pb([publish(44, "x.y", "p", 0, 1)]));
        await c.wait(F.ack);

        j.send(JSON.stringify({
          publish: {
            correlationId: "5",
            ack: "ACK_MODE_RECEIVED",
            pulse: { topic: "x.y", lane: "LANE_TURBO" },
          },
        }));
        j.send(JSON.stringify({
          publish: {
            correlationId: "6",
            ack: "ACK_MODE_RECEIVED",
            pulse: { topic: "x.y", lane: 12 },
          },
        }));
        j.send(JSON.stringify({
          publish: {
            correlationId: "7",
            ack: "ACK_MODE_RECEIVED",
            pulse: { topic: "x.y", lane: "LANE_BULK" },
          },
        }));
        await j.until(() => j.json.length >= 3, "three answers");
        const [e5, e6, ack7] = j.json as Record<string, Record<string, unknown>>[];
        assert.equal(e5.error?.code, "ERROR_CODE_INVALID_FRAME", JSON.stringify(e5));
        assert.match(String(e5.error?.message), /LANE_TURBO/);
        assert.equal(e6.error?.code, "ERROR_CODE_INVALID_ARGUMENT", JSON.stringify(e6));
        assert.equal(e6.error?.correlationId, "6");
        assert.ok(ack7.ack, JSON.stringify(ack7));

        for (
          const body of [
            { rules: [{ pattern: "a.>", lane: "turbo" }] },
            { rules: [{ pattern: "a.>", lane: 2 }] },
            { rules: [{ pattern: "a..b", lane: "bulk" }] },
            { rules: "critical" },
            { rules: Array.from({ length: 65 }, () => ({ pattern: "a", lane: "bulk" })) },
          ]
        ) {
          const res = await fetch(`${node.url}/v1/realities/lab/lanes`, {
            method: "PUT",
            body: JSON.stringify(body),
          });
          assert.equal(res.status, 400, JSON.stringify(body));
          const err = (await res.json()).error;
          assert.ok(["INVALID_ARGUMENT", "INVALID_PATTERN"].includes(err.code), err.message);
        }
        const bad = await fetch(`${node.url}/v1/realities/lab/lanes`, {
          method: "PUT",
          body: "{not json",
        });
        assert.equal(bad.status, 400);
        assert.equal((await bad.json()).error.code, "INVALID_ARGUMENT");
      } finally {
        await c.close();
        await j.close();
      }
    }, { memory: true }),
});

Deno.test({
  name: "lanes: at a contended ingress a critical message runs ahead of queued bulk ones",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withNode(async (node) => {
      const connect = async (name: string) => {
        const s = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
        s.send(pb([[F.hello, [[1, name], [2, 1]]]]));
        await s.wait(F.welcome);
        return s;
      };
      const watcher = await connect("watcher");
      watcher.send(pb([[F.subscribe, [[1, 1], [2, "storm"], [3, ">"], [12, 1]]]]));
      await watcher.wait(6);
      const storm = await connect("storm");
      const pager = await connect("pager");
      // 40 messages of 32 bulk pulses: far over the reality's 1 µs share per turn, so
      // they wait in the fair scheduler (Deno's server reads them all at once).
      const MESSAGES = 40;
      for (let m = 0; m < MESSAGES; m++) {
        const frames: PbField[] = [];
        for (let i = 0; i < 32; i++) {
          const pulse: PbField[] = [[3, "load.bulk"], [5, "storm"], [11, `b${m * 32 + i}`], [
            19,
            3,
          ]];
          frames.push([1, pb([[F.publish, [[1, 0], [2, 0], [3, pulse]]]])]);
        }
        storm.send(pb([[F.batch, frames]]));
      }
      // Then a critical pulse from another connection and one from the storm itself.
      const critical = (tag: string) =>
        pb([[F.publish, [[1, 9], [2, 1], [3, [[3, "load.alert"], [5, "storm"], [11, tag], [
          19,
          2,
        ]]]]]]);
      pager.send(critical("pager"));
      storm.send(critical("own"));
      await pager.wait(F.ack);
      await storm.wait(F.ack);
      const total = MESSAGES * 32 + 2;
      await watcher.until(() => watcher.of(F.deliver).length === total, "every pulse", 20_000);
      const order = watcher.of(F.deliver).map((d) => {
        const p = msg(d, 2);
        return [str(p, 11), num(p, 2)] as const;
      });
      const seqOf = (tag: string) => order.find(([t]) => t === tag)![1];
      const bulk = order.filter(([t]) => t.startsWith("b"));
      // Bulk pulses keep their order among themselves (sequence and payload).
      assert.deepEqual(bulk.map(([t]) => t), bulk.map((_, i) => `b${i}`));
      const lastBulk = bulk.at(-1)![1];
      console.log(`  critical sequences ${seqOf("pager")}, ${seqOf("own")} of ${total}`);
      assert.ok(seqOf("pager") < lastBulk, "another connection's critical overtook queued bulk");
      assert.ok(seqOf("own") < lastBulk, "a connection's critical overtook its own queued bulk");
      assert.ok(
        await metric(node, "arqon_ingress_deferred_total", 'reality="storm"') > 0,
        "the bulk had to queue",
      );
      for (const s of [watcher, storm, pager]) await s.close();
    }, { fairQuantumUs: 1, memory: true, wsEngine: "deno" }),
});
