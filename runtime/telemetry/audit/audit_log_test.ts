import assert from "node:assert/strict";
import { AuditLog, entryHash, GENESIS_HASH, verifyAuditFile } from "./mod.ts";

async function tempLog(): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "arqon-audit-" });
  return { dir, path: `${dir}/audit/audit.jsonl` };
}

Deno.test("entries chain: seq from 1, each prev is the previous hash", () => {
  const log = AuditLog.open();
  const a = log.append("policy.publish", "bob", { name: "cap", digest: "ab" });
  const b = log.append("policy.delete", "bob", { name: "cap" });
  assert.equal(a.seq, 1);
  assert.equal(a.prev, GENESIS_HASH);
  assert.equal(b.seq, 2);
  assert.equal(b.prev, a.hash);
  assert.equal(a.hash, entryHash(a));
  assert.notEqual(a.hash, b.hash);
  assert.equal(log.head, b.hash);
  assert.deepEqual(log.verify(), { ok: true, entries: 2 });
  assert.deepEqual(log.list(2, 10).map((e) => e.action), ["policy.delete"]);
  assert.deepEqual(log.list(1, 1).map((e) => e.seq), [1]);
});

Deno.test("the log persists and continues the chain after reopening", async () => {
  const { dir, path } = await tempLog();
  try {
    const first = AuditLog.open({ path });
    first.append("a", "x", { n: 1 });
    first.append("b", "x", { n: 2 });
    first.close();
    const again = AuditLog.open({ path });
    assert.equal(again.size, 2);
    const c = again.append("c", "y", {});
    again.close();
    assert.equal(c.seq, 3);
    const v = await verifyAuditFile(path);
    assert.deepEqual(v, { ok: true, entries: 3 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verification names the first tampered, removed or torn entry", async () => {
  const { dir, path } = await tempLog();
  try {
    const log = AuditLog.open({ path });
    for (let i = 1; i <= 5; i++) log.append("policy.publish", "bob", { name: `p${i}` });
    log.close();
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");

    // Change a detail of entry 3 without fixing its hash.
    const tampered = [...lines];
    tampered[2] = tampered[2].replace('"p3"', '"evil"');
    await Deno.writeTextFile(path, tampered.join("\n") + "\n");
    let v = await verifyAuditFile(path);
    assert.equal(v.ok, false);
    assert.deepEqual(v.firstBroken, {
      line: 3,
      seq: 3,
      problem: "content does not match its hash",
    });

    // Re-hash the tampered entry: now entry 4 no longer links to it.
    const e3 = JSON.parse(tampered[2]);
    e3.hash = entryHash(e3);
    tampered[2] = JSON.stringify(e3);
    await Deno.writeTextFile(path, tampered.join("\n") + "\n");
    v = await verifyAuditFile(path);
    assert.deepEqual(v.firstBroken, {
      line: 4,
      seq: 4,
      problem: "does not link to the previous entry's hash",
    });

    // Remove entry 2.
    await Deno.writeTextFile(path, [lines[0], ...lines.slice(2)].join("\n") + "\n");
    v = await verifyAuditFile(path);
    assert.deepEqual(v.firstBroken, {
      line: 2,
      seq: 3,
      problem: "sequence 3 where 2 was expected",
    });

    // A torn last line: reopening ends it, new entries follow, verify points at the tear.
    await Deno.writeTextFile(path, lines.join("\n") + "\n" + lines[4].slice(0, 20));
    const reopened = AuditLog.open({ path });
    reopened.append("policy.delete", "bob", {});
    const report = reopened.verify();
    reopened.close();
    assert.deepEqual(report.firstBroken, { line: 6, seq: undefined, problem: "not valid JSON" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the hash does not depend on key order of details", () => {
  const log1 = AuditLog.open({ now: () => new Date(0) });
  const log2 = AuditLog.open({ now: () => new Date(0) });
  const a = log1.append("x", "y", { a: 1, b: { c: 2, d: [1, 2] } });
  const b = log2.append("x", "y", { b: { d: [1, 2], c: 2 }, a: 1 });
  assert.equal(a.hash, b.hash);
});

Deno.test("a persisted log holds only its newest entries; older pages come from the file", async () => {
  const { dir, path } = await tempLog();
  try {
    const log = AuditLog.open({ path, sync: false, keep: 10 });
    for (let i = 1; i <= 3000; i++) log.append("a", "x", { i });
    const seqs = (from: number, limit: number) => log.list(from, limit).map((e) => e.seq);
    assert.deepEqual(seqs(1, 3), [1, 2, 3]);
    assert.deepEqual(seqs(1023, 4), [1023, 1024, 1025, 1026]);
    assert.deepEqual(seqs(2048, 2), [2048, 2049]);
    assert.deepEqual(seqs(2998, 10), [2998, 2999, 3000]);
    assert.deepEqual(log.list(1500, 1)[0].details, { i: 1500 });
    assert.deepEqual(log.verify(), { ok: true, entries: 3000 });
    const head = log.head;
    log.close();
    const again = AuditLog.open({ path, keep: 10 });
    assert.equal(again.size, 3000);
    assert.equal(again.head, head);
    assert.deepEqual(again.list(700, 2).map((e) => e.seq), [700, 701]);
    assert.equal(again.append("b", "y").seq, 3001);
    again.close();
    assert.deepEqual(await verifyAuditFile(path), { ok: true, entries: 3001 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a log in memory keeps a window of its newest entries and verifies it", () => {
  const log = AuditLog.open({ keep: 10 });
  for (let i = 1; i <= 100; i++) log.append("a", "x", { i });
  assert.equal(log.size, 100);
  const held = log.list(1, 1000).map((e) => e.seq);
  assert.ok(held.length >= 10 && held.length < 20, `${held.length} held`);
  assert.equal(held.at(-1), 100);
  assert.deepEqual(held, held.map((_, k) => held[0] + k));
  assert.deepEqual(log.verify(), { ok: true, entries: held.length });
});

Deno.test("large entries are held by bytes too: the window shrinks, the file keeps them all", async () => {
  const { dir, path } = await tempLog();
  try {
    const blob = "x".repeat(10_000);
    const log = AuditLog.open({ path, sync: false, keepBytes: 50_000 });
    for (let i = 1; i <= 40; i++) log.append("control.set", "x", { i, blob });
    // Entries of ~10 KB each: at most 2 x 50 KB of them held, never fewer than one.
    const memory = AuditLog.open({ keepBytes: 50_000 });
    for (let i = 1; i <= 40; i++) memory.append("control.set", "x", { i, blob });
    const held = memory.list(1, 1000).map((e) => e.seq);
    assert.ok(held.length >= 4 && held.length <= 10, `${held.length} held`);
    assert.equal(held.at(-1), 40);
    assert.deepEqual(memory.verify(), { ok: true, entries: held.length });
    // Persisted: what memory let go of is read back from the file.
    assert.deepEqual(
      log.list(1, 100).map((e) => e.seq),
      Array.from({ length: 40 }, (_, k) => k + 1),
    );
    assert.deepEqual(log.verify(), { ok: true, entries: 40 });
    // An entry larger than the whole budget is still held (the newest always is).
    const huge = AuditLog.open({ keepBytes: 100 });
    huge.append("a", "x", { blob });
    huge.append("a", "x", { blob });
    assert.deepEqual(huge.list(1, 10).map((e) => e.seq), [2]);
    log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
