/**
 * Replay memory on a long log (docs/time.md, "Limits"): verify and diff read the log page by
 * page, so a log far larger than the allowed growth replays and compares while the node's
 * resident memory stays bounded, and another client is served meanwhile. Fed over a raw
 * WebSocket (JSON subprotocol), asked over fetch.
 */
import assert from "node:assert/strict";
import { testOperatorComponent } from "../operators/build/mod.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { sleep } from "./support/node.ts";
import { startNodeChild } from "./adversarial/support.ts";
import { call, install } from "./support/operators.ts";

const counter = await testOperatorComponent("counter");

Deno.test("verify and diff of a long log keep memory bounded", async () => {
  // A node of its own (a child process): its RSS is the node's alone, not the test runner's
  // with every other test file running beside it.
  const child = await startNodeChild();
  const node = { url: child.httpUrl, wsUrl: child.wsUrl };
  try {
    await call(node.url, "PUT", "/v1/realities/long", { retention: [{ pattern: ">" }] });
    assert.equal(
      (await install(node.url, "sum", { reality: "long", inputs: ["nums.>"] }, counter)).status,
      201,
    );
    const s = await RawSocket.open(node.wsUrl, "arqon.v1.json");
    s.send(JSON.stringify({ hello: { clientName: "feeder", protocolVersion: 1 } }));
    await s.until(() => s.json.some((f) => f.welcome), "welcome");
    // 24,000 inputs of 8 KiB (192 MiB of payloads; each is "<n>" padded with spaces, which
    // the counter reads as n).
    const N = 24_000;
    const pad = " ".repeat(8192);
    for (let from = 0; from < N; from += 40) {
      const frames = Array.from({ length: 40 }, (_, i) => ({
        publish: {
          pulse: {
            topic: "nums.in",
            realityId: "long",
            payload: btoa(String(from + i + 1) + pad),
          },
        },
      }));
      s.send(JSON.stringify({ batch: { frames } }));
      s.json.length = 0;
      if (from % 400 === 0) await sleep(5);
    }
    for (let i = 0; i < 6000; i++) {
      const got = (await call(node.url, "GET", "/v1/operators/sum")).body;
      if (got.counters.pulsesIn + got.counters.failures >= N) break;
      await sleep(20);
    }
    // The group commit may still hold the last inputs: wait until the log has them all.
    let stored = 0;
    for (let i = 0; i < 500 && stored <= 192 << 20; i++) {
      stored = (await call(node.url, "GET", "/v1/realities/long")).body.storedBytes;
      if (stored <= 192 << 20) await sleep(20);
    }
    assert.ok(stored > 192 << 20, `${stored} bytes stored`);

    const before = child.rss();
    let peak = before;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, child.rss());
        await sleep(20);
      }
    })();
    const answer = (await call(node.url, "POST", "/v1/realities/long/verify")).body;
    // Meanwhile another client is served.
    const fork = await call(node.url, "POST", "/v1/realities/long/fork", {
      name: "long-b",
      until: { sequence: 2000 },
    });
    assert.equal(fork.status, 202);
    for (let i = 0; i < 3000; i++) {
      if ((await call(node.url, "GET", "/v1/realities/long-b/fork")).body.state !== "running") {
        break;
      }
      await sleep(20);
    }
    const diff = (await call(node.url, "GET", "/v1/realities/long/diff/long-b")).body;
    sampling = false;
    await sampler;
    assert.equal(answer.ok, true, JSON.stringify(answer.first_difference));
    assert.equal(answer.inputs, N);
    assert.equal(diff.outputs.b > 0, true);
    const grew = (peak - before) / (1 << 20);
    console.log(
      `rss before ${(before / (1 << 20)).toFixed(0)} MiB, peak growth ${grew.toFixed(0)} MiB`,
    );
    // The log replayed is over 192 MiB, read three times (count, replay, compare) and
    // written again into the scratch reality and the fork: the node holds pages of it, not
    // the log (measured on the shared machine: 127 MiB of growth with a 128 MiB log, 48 MiB
    // with this 192 MiB one: V8's heap and SQLite's cache, not the log's size).
    // Below the log's own size: holding the log (once, of the three reads) would pass it.
    // Measured on a node child: 124-167 MiB, which is V8's heap and SQLite's cache.
    assert.ok(grew < 192, `rss grew ${grew.toFixed(0)} MiB`);
    await s.close();
  } finally {
    await child.stop();
  }
});
