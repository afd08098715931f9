/**
 * Encryption at rest: with a key ring (`--key-file`) no payload byte reaches the data
 * directory in clear. The scan reads every file of the data directory (database, WAL,
 * shared memory) for a plaintext marker; a run without a key ring must find it, which
 * proves the scan can see plaintext when there is some.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
import { ArqonClient } from "../runtime/client/mod.ts";
import { createKeyRingFile, rotateKeyRingFile } from "../runtime/store/crypto/mod.ts";

const MARKER = "PLAINTEXT-MARKER-at-rest-4c1e";

async function filesContain(dir: string, marker: string): Promise<boolean> {
  const needle = new TextEncoder().encode(marker);
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      if (await filesContain(path, marker)) return true;
      continue;
    }
    const bytes = await Deno.readFile(path);
    outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
      for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
      return true;
    }
  }
  return false;
}

async function storeAndScan(
  keyFile: string | undefined,
): Promise<{ found: boolean; read: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "arqon-at-rest-" });
  try {
    const options = {
      port: 0,
      log: "quiet" as const,
      dataDir: `${dir}/data`,
      keyFile: keyFile ?? "",
    };
    let node = await startNode(options);
    try {
      await fetch(`${node.url}/v1/realities`, {
        method: "POST",
        body: JSON.stringify({ name: "vault", retention: [{ pattern: ">" }] }),
      }).then((r) => r.body?.cancel());
      const client = await ArqonClient.connect(node.wsUrl, { reconnect: false });
      for (let i = 0; i < 20; i++) {
        await client.publish("secrets.card", `${MARKER} #${i}`, {
          reality: "vault",
          ack: "durable",
        });
      }
      await client.close();
    } finally {
      await node.shutdown();
    }
    const found = await filesContain(`${dir}/data`, MARKER);
    // Restart: the node opens its own records again.
    node = await startNode(options);
    try {
      const client = await ArqonClient.connect(node.wsUrl, { reconnect: false });
      const pulses = await client.history({ reality: "vault" });
      await client.close();
      return { found, read: pulses.map((p) => new TextDecoder().decode(p.payload!)) };
    } finally {
      await node.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("at rest: payloads are encrypted in every file of the data directory", async () => {
  const keys = await Deno.makeTempDir({ prefix: "arqon-keys-" });
  try {
    await createKeyRingFile(`${keys}/store.keys`);
    const sealed = await storeAndScan(`${keys}/store.keys`);
    assert.equal(sealed.found, false, "plaintext marker found on disk");
    assert.deepEqual(sealed.read, Array.from({ length: 20 }, (_, i) => `${MARKER} #${i}`));
    const clear = await storeAndScan(undefined);
    assert.equal(clear.found, true, "the scan sees plaintext when the store is not encrypted");
  } finally {
    await Deno.remove(keys, { recursive: true });
  }
});

Deno.test("at rest: after a key rotation old records still open and new ones use the new key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-rotate-" });
  try {
    const keyFile = `${dir}/store.keys`;
    await createKeyRingFile(keyFile);
    const options = { port: 0, log: "quiet" as const, dataDir: `${dir}/data`, keyFile };
    const publish = async (text: string, create: boolean) => {
      const node = await startNode(options);
      try {
        if (create) {
          await fetch(`${node.url}/v1/realities`, {
            method: "POST",
            body: JSON.stringify({ name: "vault", retention: [{ pattern: ">" }] }),
          }).then((r) => r.body?.cancel());
        }
        const client = await ArqonClient.connect(node.wsUrl, { reconnect: false });
        await client.publish("secrets.x", text, { reality: "vault", ack: "durable" });
        const all = await client.history({ reality: "vault" });
        await client.close();
        return all.map((p) => new TextDecoder().decode(p.payload!));
      } finally {
        await node.shutdown();
      }
    };
    assert.deepEqual(await publish("before rotation", true), ["before rotation"]);
    await rotateKeyRingFile(keyFile);
    assert.deepEqual(await publish("after rotation", false), ["before rotation", "after rotation"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
