import assert from "node:assert/strict";
import type { DurableLog } from "../spine/mod.ts";
import { openStore, type StoreOptions } from "./sqlite_log.ts";
import { StorageError, StoreOpenError } from "./errors.ts";
import { decodePulse } from "./pulse_codec.ts";
import { payloadFor, stampedPulse, withTempDir } from "./testing.ts";

const KEEP_ALL = { retention: [{ pattern: ">" }] };

function sequences(log: DurableLog, query: Parameters<DurableLog["readEncoded"]>[0]): number[] {
  return log.readEncoded(query).map((p) => p.sequence);
}

async function appendRange(
  log: DurableLog,
  from: number,
  to: number,
  extra: (seq: number) => Partial<Parameters<typeof stampedPulse>[0]> = () => ({}),
) {
  const pulses = [];
  for (let seq = from; seq <= to; seq++) {
    pulses.push(stampedPulse({ sequence: seq, ...extra(seq) }));
  }
  await log.append(pulses);
}

for (const mode of ["memory", "disk"] as const) {
  Deno.test(`store (${mode}): appended pulses read back intact in sequence order`, async () => {
    await withTempDir(async (dir) => {
      const log = openStore({
        dataDir: mode === "memory" ? null : dir,
        defaultRealityConfig: KEEP_ALL,
      });
      try {
        for (let i = 0; i < 10; i++) await appendRange(log, i * 100 + 1, i * 100 + 100);
        const pulses = log.read("default", 1, 1000, 2000);
        assert.equal(pulses.length, 1000);
        pulses.forEach((p, i) => {
          assert.equal(p.sequence, i + 1);
          assert.deepEqual(
            new Uint8Array(p.payload as Uint8Array),
            payloadFor(i + 1, 16),
          );
          assert.equal(p.topic, "test.topic");
          assert.equal(p.producerId, "tester");
        });
        assert.deepEqual(sequences(log, { reality: "default", fromSeq: 250, toSeq: 260 }), [
          250,
          251,
          252,
          253,
          254,
          255,
          256,
          257,
          258,
          259,
          260,
        ]);
        assert.deepEqual(sequences(log, { reality: "default", fromSeq: 998, limit: 10 }), [
          998,
          999,
          1000,
        ]);
        assert.equal(log.lastSequence("default"), 1000);
        assert.equal(log.read("nope", 1, 10, 10).length, 0);
      } finally {
        log.close();
      }
    });
  });
}

Deno.test("store: appends of one event-loop turn share one commit (sync=always)", async () => {
  const log = openStore({ dataDir: null, sync: "always", defaultRealityConfig: KEEP_ALL });
  try {
    const acks = [];
    for (let seq = 1; seq <= 50; seq++) acks.push(log.append([stampedPulse({ sequence: seq })]));
    await Promise.all(acks);
    assert.equal(log.stats().commits, 1);
    assert.equal(log.stats().batchSize.count, 1);
    assert.equal(log.stats().batchSize.sum, 50);
    await log.append([stampedPulse({ sequence: 51 })]);
    assert.equal(log.stats().commits, 2);
  } finally {
    log.close();
  }
});

Deno.test("store: large batches are split into several chunk rows and read back whole", async () => {
  const log = openStore({ dataDir: null, maxChunkBytes: 4096, defaultRealityConfig: KEEP_ALL });
  try {
    await appendRange(log, 1, 500, (seq) => ({ payload: payloadFor(seq, 100) }));
    const read = log.readEncoded({ reality: "default" });
    assert.deepEqual(read.map((p) => p.sequence), Array.from({ length: 500 }, (_, i) => i + 1));
    read.forEach((p) =>
      assert.deepEqual(decodePulse(p.bytes).payload, payloadFor(p.sequence, 100))
    );
  } finally {
    log.close();
  }
});

Deno.test("store: topics without a rule are fire-and-forget but advance the sequence", async () => {
  const log = openStore({ dataDir: null });
  try {
    log.createReality("r", { retention: [{ pattern: "keep.>" }] });
    await log.append([
      stampedPulse({ sequence: 1, reality: "r", topic: "keep.a" }),
      stampedPulse({ sequence: 2, reality: "r", topic: "drop.a" }),
      stampedPulse({ sequence: 3, reality: "r", topic: "keep.b.c" }),
      stampedPulse({ sequence: 4, reality: "r", topic: "drop.b" }),
    ]);
    assert.deepEqual(sequences(log, { reality: "r" }), [1, 3]);
    assert.equal(log.lastSequence("r"), 4);
    assert.equal(log.shouldStore("r", "keep.x"), true);
    assert.equal(log.shouldStore("r", "drop.x"), false);
    assert.equal(log.shouldStore("unknown", "keep.x"), false);
    assert.equal(log.getReality("r")?.storedPulses, 2);
  } finally {
    log.close();
  }
});

Deno.test("store: realities, rules, data and sequences survive a reopen", async () => {
  await withTempDir(async (dir) => {
    const options: StoreOptions = { dataDir: dir };
    let log = openStore(options);
    log.createReality("alpha", {
      retention: [{ pattern: "a.>", maxPulses: 5 }, { pattern: "b.*" }],
      limits: { maxSubscriptions: 10 },
      description: "first",
    });
    log.createReality("beta", {});
    await appendRange(log, 1, 20, (seq) => ({
      reality: "alpha",
      topic: seq % 2 ? "a.x" : "b.y",
    }));
    await log.append([stampedPulse({ sequence: 7, reality: "beta", topic: "z" })]);
    const before = log.listRealities();
    log.close();

    log = openStore(options);
    try {
      assert.deepEqual(log.listRealities(), before);
      assert.equal(log.lastSequence("alpha"), 20);
      assert.equal(log.lastSequence("beta"), 7);
      const alpha = log.getReality("alpha");
      assert.equal(alpha?.config.limits.maxSubscriptions, 10);
      assert.equal(alpha?.config.description, "first");
      // a.x keeps the newest 5 odd sequences, b.y keeps all 10 even ones.
      assert.deepEqual(sequences(log, { reality: "alpha" }), [
        2,
        4,
        6,
        8,
        10,
        11,
        12,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
        20,
      ]);
      await appendRange(log, 21, 22, () => ({ reality: "alpha", topic: "a.x" }));
      assert.deepEqual(sequences(log, { reality: "alpha", pattern: "a.>" }), [15, 17, 19, 21, 22]);
    } finally {
      log.close();
    }
  });
});

Deno.test("store: registry create/get/list/update/delete with typed errors", async () => {
  const log = openStore({ dataDir: null });
  try {
    log.createReality("one", { retention: [{ pattern: ">" }] });
    assert.throws(
      () => log.createReality("one"),
      (e: unknown) => e instanceof StorageError && e.code === "INVALID_ARGUMENT",
    );
    assert.throws(
      () => log.createReality("bad name"),
      (e: unknown) => e instanceof StorageError && e.code === "INVALID_ARGUMENT",
    );
    assert.throws(
      () => log.createReality("two", { retention: [{ pattern: "a..b" }] }),
      (e: unknown) => e instanceof StorageError && e.code === "INVALID_ARGUMENT",
    );
    assert.throws(
      () => log.createReality("two", { retention: [{ pattern: ">", maxPulses: -1 }] }),
      (e: unknown) => e instanceof StorageError && e.code === "INVALID_ARGUMENT",
    );
    assert.throws(
      () => log.updateReality("missing", {}),
      (e: unknown) => e instanceof StorageError && e.code === "NOT_FOUND",
    );
    await appendRange(log, 1, 10, () => ({ reality: "one" }));
    assert.deepEqual(log.listRealities().map((r) => r.name), ["one"]);
    assert.equal(log.deleteReality("one"), true);
    assert.equal(log.deleteReality("one"), false);
    assert.equal(log.getReality("one"), undefined);
    assert.equal(log.readEncoded({ reality: "one" }).length, 0);
    assert.equal(log.lastSequence("one"), 0);
  } finally {
    log.close();
  }
});

Deno.test("store: retention by count, bytes and age keeps exactly the newest pulses", async () => {
  let now = 1_700_000_100_000;
  const log = openStore({ dataDir: null, now: () => now, retentionIntervalMs: 0 });
  try {
    log.createReality("r", {
      retention: [
        { pattern: "count.>", maxPulses: 3 },
        { pattern: "bytes.>", maxBytes: 0 },
        { pattern: "age.>", maxAgeMs: 1000 },
      ],
    });
    // Each pulse is appended alone so trimming crosses chunk boundaries.
    for (let seq = 1; seq <= 10; seq++) {
      await log.append([stampedPulse({ sequence: seq, reality: "r", topic: "count.x" })]);
    }
    assert.deepEqual(sequences(log, { reality: "r" }), [8, 9, 10]);
    assert.equal(log.stats().retentionDeletedPulses, 7);

    const size = log.readEncoded({ reality: "r", fromSeq: 10 })[0].bytes.length;
    log.updateReality("r", {
      retention: [
        { pattern: "count.>", maxPulses: 3 },
        { pattern: "bytes.>", maxBytes: size * 2 },
        { pattern: "age.>", maxAgeMs: 1000 },
      ],
    });
    await appendRange(log, 11, 15, () => ({ reality: "r", topic: "bytes.x" }));
    assert.deepEqual(sequences(log, { reality: "r", pattern: "bytes.>" }), [14, 15]);

    await appendRange(log, 16, 20, (seq) => ({
      reality: "r",
      topic: "age.x",
      wallMs: now - 2000 + (seq - 16) * 400, // 16,17,18 older than 1 s; 19,20 within
    }));
    assert.deepEqual(sequences(log, { reality: "r", pattern: "age.>" }), [16, 17, 18, 19, 20]);
    log.enforceRetention();
    assert.deepEqual(sequences(log, { reality: "r", pattern: "age.>" }), [19, 20]);
    now += 10_000;
    log.enforceRetention();
    assert.deepEqual(sequences(log, { reality: "r", pattern: "age.>" }), []);
    assert.equal(log.getReality("r")?.storedPulses, 5);

    // Tightening a limit applies at once; removing a rule deletes its pulses.
    log.updateReality("r", { retention: [{ pattern: "count.>", maxPulses: 1 }] });
    assert.deepEqual(sequences(log, { reality: "r" }), [10]);
    assert.equal(log.getReality("r")?.storedPulses, 1);
  } finally {
    log.close();
  }
});

Deno.test("store: history filters by time (strict bounds), pattern and limit across rules", async () => {
  const log = openStore({ dataDir: null });
  try {
    log.createReality("h", { retention: [{ pattern: "a.>" }, { pattern: "b.>" }] });
    // Two rules interleave inside each batch, so chunks overlap and must be merged.
    for (let batch = 0; batch < 5; batch++) {
      await appendRange(log, batch * 20 + 1, batch * 20 + 20, (seq) => ({
        reality: "h",
        topic: seq % 3 === 0 ? "b.t" : "a.t",
        wallMs: 5000 + seq * 10,
      }));
    }
    const all = sequences(log, { reality: "h" });
    assert.deepEqual(all, Array.from({ length: 100 }, (_, i) => i + 1));
    // Wall of seq s is 5000 + 10 s: [5205, 5305] covers 21..30 (5205 excludes 20).
    assert.deepEqual(
      sequences(log, { reality: "h", fromTimeMs: 5205, toTimeMs: 5300 }),
      [21, 22, 23, 24, 25, 26, 27, 28, 29, 30],
    );
    assert.deepEqual(sequences(log, { reality: "h", fromTimeMs: 5210, toTimeMs: 5210 }), [21]);
    assert.deepEqual(sequences(log, { reality: "h", fromTimeMs: 99_999 }), []);
    assert.deepEqual(sequences(log, { reality: "h", toTimeMs: 5000 }), []);
    assert.deepEqual(
      sequences(log, { reality: "h", pattern: "b.*", fromSeq: 10, limit: 4 }),
      [12, 15, 18, 21],
    );
    assert.deepEqual(
      sequences(log, { reality: "h", pattern: "a.>", fromSeq: 95, toSeq: 99 }),
      [95, 97, 98],
    );
    let streamed: number[] = [];
    for await (const page of log.history({ reality: "h", fromSeq: 3, limit: 50 }, 7)) {
      assert.ok(page.length <= 7);
      streamed = streamed.concat(page.map((p) => p.sequence));
    }
    assert.deepEqual(streamed, Array.from({ length: 50 }, (_, i) => i + 3));
    assert.throws(() => log.readEncoded({ reality: "h", fromSeq: -1 }), StorageError);
  } finally {
    log.close();
  }
});

Deno.test("store: a corrupt or foreign data directory fails at open, never resets", async () => {
  await withTempDir(async (dir) => {
    const garbage = new TextEncoder().encode("this is not a database ".repeat(400));
    await Deno.writeFile(`${dir}/arqon.db`, garbage);
    assert.throws(
      () => openStore({ dataDir: dir }),
      (e: unknown) => e instanceof StoreOpenError && /not a database/.test(e.message),
    );
    assert.deepEqual(await Deno.readFile(`${dir}/arqon.db`), garbage);
  });
  await withTempDir(async (dir) => {
    const { DatabaseSync } = await import("node:sqlite");
    const other = new DatabaseSync(`${dir}/arqon.db`);
    other.exec("CREATE TABLE something (x)");
    other.close();
    assert.throws(
      () => openStore({ dataDir: dir }),
      (e: unknown) => e instanceof StoreOpenError && /not an ArqonBus store/.test(e.message),
    );
  });
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "x");
    assert.throws(() => openStore({ dataDir: `${dir}/file` }), StoreOpenError);
  });
});

Deno.test("store: a second store on the same directory is refused while the first runs", async () => {
  await withTempDir((dir) => {
    const first = openStore({ dataDir: dir });
    try {
      assert.throws(
        () => openStore({ dataDir: dir }),
        (e: unknown) => e instanceof StoreOpenError && /another node/.test(e.message),
      );
    } finally {
      first.close();
    }
    openStore({ dataDir: dir }).close();
  });
});

Deno.test("store: a full disk rejects appends with STORAGE_FAILED and the store recovers", async () => {
  await withTempDir(async (dir) => {
    const log = openStore({ dataDir: dir, maxBytes: 64 * 4096, defaultRealityConfig: KEEP_ALL });
    try {
      await appendRange(log, 1, 10, (seq) => ({ payload: payloadFor(seq, 1000) }));
      let failed: unknown;
      let seq = 11;
      for (; seq < 1000 && !failed; seq += 20) {
        try {
          await appendRange(log, seq, seq + 19, (s) => ({ payload: payloadFor(s, 1000) }));
        } catch (error) {
          failed = error;
        }
      }
      assert.ok(failed instanceof StorageError, "the append must reject");
      assert.equal((failed as StorageError).code, "STORAGE_FAILED");
      assert.ok(log.stats().commitFailures >= 1);
      const kept = sequences(log, { reality: "default" });
      assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => i + 1));
      const stored = log.getReality("default")?.storedPulses;
      assert.equal(stored, kept.length);
      // Freeing space (a retention change) lets writes succeed again.
      log.updateReality("default", { retention: [{ pattern: ">", maxPulses: 5 }] });
      await appendRange(log, seq + 100, seq + 101, (s) => ({ payload: payloadFor(s, 1000) }));
      assert.deepEqual(
        sequences(log, { reality: "default" }).slice(-2),
        [seq + 100, seq + 101],
      );
    } finally {
      log.close();
    }
  });
});

Deno.test("store: stats report sizes, commits and history reads", async () => {
  await withTempDir(async (dir) => {
    const log = openStore({ dataDir: dir, defaultRealityConfig: KEEP_ALL });
    try {
      await appendRange(log, 1, 100);
      log.readEncoded({ reality: "default", limit: 10 });
      const stats = log.stats();
      assert.equal(stats.appendedPulses, 100);
      assert.equal(stats.writtenPulses, 100);
      assert.equal(stats.historyReads, 1);
      assert.equal(stats.historyPulses, 10);
      assert.equal(stats.commitLatencyMs.count, stats.commits);
      assert.ok(stats.fileBytes > 0);
      assert.equal(stats.realities[0].storedPulses, 100);
      assert.ok(stats.realities[0].storedBytes > 100 * 16);
    } finally {
      log.close();
    }
  });
});

Deno.test("store: a closed store rejects appends with a StorageError", async () => {
  const log = openStore({ dataDir: null });
  log.close();
  await assert.rejects(log.append([stampedPulse({ sequence: 1 })]), StorageError);
});

Deno.test("store: fire-and-forget sequences are leased, never reused after a crash", async () => {
  const { SEQUENCE_LEASE } = await import("./group_commit.ts");
  await withTempDir(async (dir) => {
    // Unstored traffic writes the head once per lease, not once per commit window.
    const log = openStore({ dataDir: dir });
    for (let i = 0; i < 20; i++) await appendRange(log, i * 50 + 1, i * 50 + 50);
    assert.equal(log.stats().commits, 1, "one lease write for 1000 unstored pulses");
    log.close();
    const reopened = openStore({ dataDir: dir });
    assert.equal(reopened.lastSequence("default"), 1000, "a clean close keeps the exact head");
    reopened.close();

    // A crash: the child appends 10 more and is killed without closing.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./testdata/append_then_hang.ts", import.meta.url).pathname,
        dir,
        "1010",
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("appended")) out += (await reader.read()).value ?? "";
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
    const afterCrash = openStore({ dataDir: dir });
    try {
      const head = afterCrash.lastSequence("default");
      assert.ok(head >= 1010, `no sequence handed out before the crash is reused (${head})`);
      assert.ok(head <= 1010 + SEQUENCE_LEASE, "the gap is bounded by the lease");
    } finally {
      afterCrash.close();
    }
  });
});
