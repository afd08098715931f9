import assert from "node:assert/strict";
import { NodeMetrics } from "../telemetry/mod.ts";
import type { BusError } from "../protocol/mod.ts";
import {
  patternError,
  Spine,
  type Subscription,
  type SubscriptionOwner,
  SubscriptionTrie,
  topicError,
  topicMatches,
} from "./mod.ts";

class Collector implements SubscriptionOwner {
  woken = 0;
  overflowedBy: Subscription | null = null;
  wake(): void {
    this.woken++;
  }
  overflowed(sub: Subscription): void {
    this.overflowedBy = sub;
  }
}

const spineWith = (overflow: "drop-oldest" | "drop-new" | "disconnect" = "drop-oldest") =>
  new Spine({ metrics: new NodeMetrics(), queue: { maxMessages: 3, maxBytes: 1 << 20, overflow } });

Deno.test("topic and pattern syntax", () => {
  for (const ok of ["a", "a.b.c", "nvm.job.submit", "x_y-z.0"]) {
    assert.equal(topicError(ok), null, ok);
  }
  for (const bad of ["", "A.b", "a..b", "a.*", "a.>", ".a", "a b", "é"]) {
    assert.ok(topicError(bad), `topic ${JSON.stringify(bad)} refused`);
  }
  assert.ok(topicError("a".repeat(257)));
  assert.ok(topicError(Array(17).fill("a").join(".")));
  assert.equal(topicError(Array(16).fill("a").join(".")), null);
  for (const ok of ["*", ">", "a.*.c", "a.>", "*.*"]) assert.equal(patternError(ok), null, ok);
  for (const bad of ["a.>.c", "a.**", "a.b>", ""]) assert.ok(patternError(bad), bad);
});

Deno.test("the trie matches like topicMatches for every pattern", () => {
  const patterns = ["a.b.c", "a.*.c", "a.>", "*.b.*", ">", "a.*", "*", "x.y"];
  const topics = ["a.b.c", "a.x.c", "a.b", "a", "q.b.z", "x.y", "x.y.z", "a.b.c.d"];
  const trie = new SubscriptionTrie<string>();
  for (const p of patterns) trie.insert(p, p);
  for (const t of topics) {
    const expected = patterns.filter((p) => topicMatches(p, t)).sort();
    assert.deepEqual(trie.match(t).sort(), expected, t);
  }
  for (const p of patterns) assert.ok(trie.remove(p, p));
  assert.equal(trie.size, 0);
  assert.deepEqual(trie.match("a.b.c"), []);
  assert.equal(trie.remove("a.b.c", "a.b.c"), false);
});

Deno.test("sequences are per reality, from 1, and refused pulses take none", () => {
  const spine = spineWith();
  const seq = (reality: string, topic = "t.x") =>
    (spine.publish({ topic, realityId: reality, payload: new Uint8Array(1) }, "p") as {
      pulse: { sequence: number };
    })
      .pulse.sequence;
  assert.equal(seq("a"), 1);
  assert.equal(seq("a"), 2);
  assert.equal(seq("b"), 1);
  assert.throws(() => seq("a", "Bad"), (e: BusError) => e.code === "INVALID_TOPIC");
  assert.throws(() => seq("NOPE"), (e: BusError) => e.code === "INVALID_ARGUMENT");
  assert.equal(seq("a"), 3);
  assert.equal(seq(""), 1, "empty reality means default");
});

Deno.test("overflow policies: drop-oldest keeps the newest, drop-new keeps the oldest, disconnect tells the owner", () => {
  for (const mode of ["drop-oldest", "drop-new", "disconnect"] as const) {
    const spine = spineWith(mode);
    const owner = new Collector();
    const sub = spine.subscribe(owner, { id: 1, pattern: "q.>" });
    for (let i = 0; i < 5; i++) spine.publish({ topic: "q.x", payload: new Uint8Array([i]) }, "p");
    const kept = sub.take(10).map((p) => p.pulse.payload![0]);
    if (mode === "drop-oldest") {
      assert.deepEqual(kept, [2, 3, 4]);
      assert.equal(sub.droppedTotal, 2);
    } else if (mode === "drop-new") {
      assert.deepEqual(kept, [0, 1, 2]);
      assert.equal(sub.droppedTotal, 2);
    } else {
      assert.equal(owner.overflowedBy, sub);
      assert.deepEqual(kept, [0, 1, 2]);
    }
  }
});

Deno.test("guards: deny refuses before sequencing, redact rewrites the payload, throw fails closed", () => {
  const spine = spineWith();
  const owner = new Collector();
  const sub = spine.subscribe(owner, { id: 1, pattern: ">" });
  spine.setGuard({
    inspect(p) {
      if (p.topic === "deny.me") {
        return { allow: false, code: "POLICY_DENIED", reason: "no" };
      }
      if (p.topic === "boom.now") throw new Error("policy trapped");
      if (p.topic === "redact.me") return { allow: true, payload: new TextEncoder().encode("***") };
      return { allow: true };
    },
  });
  assert.throws(
    () => spine.publish({ topic: "deny.me" }, "p"),
    (e: BusError) => e.code === "POLICY_DENIED" && e.message === "no",
  );
  assert.throws(
    () => spine.publish({ topic: "boom.now" }, "p"),
    (e: BusError) => e.code === "POLICY_DENIED",
  );
  spine.publish({ topic: "redact.me", payload: new TextEncoder().encode("secret") }, "p");
  const [p] = sub.take(10);
  assert.equal(p.pulse.sequence, 1, "denied pulses consumed no sequence");
  assert.equal(new TextDecoder().decode(p.pulse.payload), "***");
});
