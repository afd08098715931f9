/**
 * Starts a real node on an ephemeral loopback port for a test and stops it afterwards.
 * @module
 */
import { type ArqonNode, type NodeConfig, startNode } from "../../mod.ts";

/** Runs `fn` against a fresh in-memory node; always shuts it down. */
export async function withNode(
  fn: (node: ArqonNode) => Promise<void>,
  config: Partial<NodeConfig> = {},
): Promise<void> {
  const node = await startNode({ port: 0, log: "quiet", shutdownGraceMs: 500, ...config });
  try {
    await fn(node);
  } finally {
    await node.shutdown();
  }
}

/** Reads one metric sample from `/metrics` (0 when absent). */
export async function metric(node: ArqonNode, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const [key, value] = line.split(" ");
    const bare = key.includes("{") ? key.slice(0, key.indexOf("{")) : key;
    if (bare !== name) continue;
    if (labels && !key.includes(labels)) continue;
    return Number(value);
  }
  return 0;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
