/**
 * A damaged store is refused or reported, never served as valid: a zero-length or missing
 * `arqon.db` in a directory that held a store stops the node at start; bytes changed in a
 * stored chunk are a typed error naming the range while the rest is still served; a store
 * written before checksums existed still opens.
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { type ArqonNode, startNode } from "../../mod.ts";

const ROOT = new URL("../../", import.meta.url);

async function withStoreNode(dir: string, fn: (node: ArqonNode) => Promise<void>): Promise<void> {
  const node = await startNode({ port: 0, dataDir: dir, log: "quiet", shutdownGraceMs: 500 });
  try {
    await fn(node);
  } finally {
    await node.shutdown();
  }
}

/** Creates reality `lab` storing `t.>` and publishes `count` pulses, one commit each. */
async function fill(node: ArqonNode, count: number): Promise<void> {
  const base = `${node.url}/v1/realities`;
  const created = await fetch(base, {
    method: "POST",
    body: JSON.stringify({ name: "lab", retention: [{ pattern: "t.>" }] }),
  });
  assert.equal(created.status, 201, await created.text());
  for (let i = 1; i <= count; i++) {
    const res = await fetch(`${base}/lab/topics/t.x?ack=durable`, {
      method: "POST",
      body: `p${i}`,
    });
    assert.equal(res.status, 200, await res.text());
  }
}

async function history(node: ArqonNode, query = ""): Promise<{ status: number; text: string }> {
  const res = await fetch(`${node.url}/v1/realities/lab/history${query}`);
  return { status: res.status, text: await res.text() };
}

async function runNode(dataDir: string): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", "--port", "0", "--data-dir", dataDir],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    // A node that starts (the defect) would run forever: bounded.
    signal: AbortSignal.timeout(20_000),
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("strict store: a zero-length or missing arqon.db beside its marker stops the node", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-strict-empty-" });
  try {
    await withStoreNode(dir, (node) => fill(node, 3));
    for (const suffix of ["-wal", "-shm"]) {
      await Deno.remove(`${dir}/arqon.db${suffix}`).catch(() => {});
    }
    await Deno.truncate(`${dir}/arqon.db`, 0);
    let { code, stderr } = await runNode(dir);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /cannot open store at .*arqon\.db: the database is empty \(0 bytes\)/);
    const marker = JSON.parse(await Deno.readTextFile(`${dir}/arqon.marker`));
    assert.match(stderr, new RegExp(`holds store ${marker.storeId} \\(arqon\\.marker\\)`));
    assert.equal((await Deno.stat(`${dir}/arqon.db`)).size, 0, "left as it was");

    await Deno.remove(`${dir}/arqon.db`);
    ({ code, stderr } = await runNode(dir));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /the database is missing/);
    await assert.rejects(Deno.stat(`${dir}/arqon.db`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("strict store: a changed stored payload is a typed error naming its range", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-strict-flip-" });
  try {
    await withStoreNode(dir, (node) => fill(node, 5));
    // Change the payload of pulse 2 in place: still valid protobuf, only its bytes differ.
    const db = new DatabaseSync(`${dir}/arqon.db`);
    const row = db.prepare("SELECT id, data FROM chunks WHERE first_seq=2 AND last_seq=2")
      .get() as {
        id: number;
        data: Uint8Array;
      };
    const data = new Uint8Array(row.data);
    const at = new TextDecoder("latin1").decode(data).indexOf("p2");
    assert.ok(at > 0);
    data[at] = "X".charCodeAt(0);
    db.prepare("UPDATE chunks SET data=? WHERE id=?").run(data, row.id);
    db.close();

    await withStoreNode(dir, async (node) => {
      const all = await history(node);
      assert.equal(all.status, 507, all.text);
      const error = JSON.parse(all.text).error;
      assert.equal(error.code, "STORAGE_FAILED");
      assert.match(error.message, /pulses 2\.\.2 of reality lab are corrupt/);
      // Other ranges are still served, and the node is up.
      const later = await history(node, "?from_seq=3");
      assert.equal(later.status, 200);
      assert.deepEqual(
        later.text.trim().split("\n").map((l) => atob(JSON.parse(l).payload)),
        ["p3", "p4", "p5"],
      );
      const first = await history(node, "?to_seq=1");
      assert.equal(first.status, 200);
      assert.equal(atob(JSON.parse(first.text).payload), "p1");
      // Over WebSocket: an error frame with the query's correlation id.
      const ws = new WebSocket(node.wsUrl, "arqon.v1.json");
      const frames: Record<string, Record<string, string>>[] = [];
      ws.onmessage = (e) => frames.push(JSON.parse(e.data));
      await new Promise((resolve) => (ws.onopen = resolve));
      ws.send(JSON.stringify({ hello: { clientName: "h", protocolVersion: 1 } }));
      ws.send(JSON.stringify({ historyGet: { correlationId: "41", realityId: "lab" } }));
      const end = Date.now() + 5000;
      while (!frames.some((f) => f.error) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const err = frames.find((f) => f.error)?.error;
      assert.ok(err, JSON.stringify(frames));
      assert.equal(err.code, "ERROR_CODE_STORAGE_FAILED");
      assert.equal(err.correlationId, "41");
      assert.match(err.message, /2\.\.2/);
      assert.ok(!frames.some((f) => f.historyChunk?.done), "no answer claims to be complete");
      // A subscription replaying from sequence 1 is told too, with its correlation id.
      ws.send(JSON.stringify({
        subscribe: {
          correlationId: "42",
          subscriptionId: 1,
          realityId: "lab",
          pattern: "t.>",
          start: "START_MODE_FROM_SEQUENCE",
          fromSequence: "1",
        },
      }));
      while (!frames.some((f) => f.error?.correlationId === "42") && Date.now() < end + 5000) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const replay = frames.find((f) => f.error?.correlationId === "42")?.error;
      assert.ok(replay, JSON.stringify(frames));
      assert.equal(replay.code, "ERROR_CODE_STORAGE_FAILED");
      assert.match(replay.message, /pulses 2\.\.2 of reality lab are corrupt/);
      ws.close();
      assert.equal((await fetch(`${node.url}/healthz`)).status, 200);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("strict store: a store written before checksums and markers still opens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-strict-old-" });
  try {
    await withStoreNode(dir, (node) => fill(node, 2));
    // Make it look like the previous version's store.
    const db = new DatabaseSync(`${dir}/arqon.db`);
    db.exec("ALTER TABLE chunks DROP COLUMN checksum");
    db.exec("DELETE FROM meta WHERE key='store_id'");
    db.close();
    await Deno.remove(`${dir}/arqon.marker`);
    await withStoreNode(dir, async (node) => {
      const all = await history(node);
      assert.equal(all.status, 200, all.text);
      assert.equal(all.text.trim().split("\n").length, 2);
    });
    const marker = JSON.parse(await Deno.readTextFile(`${dir}/arqon.marker`));
    const check = new DatabaseSync(`${dir}/arqon.db`);
    const id = check.prepare("SELECT value FROM meta WHERE key='store_id'").get() as {
      value: string;
    };
    const nulls = check.prepare("SELECT count(*) AS n FROM chunks WHERE checksum IS NULL")
      .get() as {
        n: number;
      };
    check.close();
    assert.equal(marker.storeId, id.value);
    assert.equal(nulls.n, 2, "old rows stay unchecked");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
