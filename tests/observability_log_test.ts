/**
 * The structured log end to end: a node child process with `--log-format json`, a raw
 * WebSocket client (no SDK) and fetch; its stderr read back as one JSON object per line.
 */
import assert from "node:assert/strict";
import { F, pb } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { spawnNode } from "./store_node_process.ts";
import { builtinComponent } from "../casil/mod.ts";

function jsonLines(stderr: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    out.push(JSON.parse(line)); // every JSON line parses on its own
  }
  return out;
}

async function stop(node: Awaited<ReturnType<typeof spawnNode>>): Promise<string> {
  node.child.kill("SIGTERM");
  await node.child.status;
  return await node.rest;
}

Deno.test("log json: connect, disconnect, and a policy install, one object a line", async () => {
  const node = await spawnNode(["--memory", "--log-format", "json", "--log-level", "info"]);
  let stderr = "";
  try {
    const ws = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    ws.send(pb([[F.hello, [[1, "log-client"], [2, 1]]]]));
    await ws.wait(F.welcome);
    await ws.close();
    const res = await fetch(`${node.url}/v1/policies/cap`, {
      method: "PUT",
      body: await builtinComponent("payload_size_cap"),
    });
    assert.equal(res.status, 201, await res.text());
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    stderr = await stop(node);
  }
  const lines = jsonLines(stderr);
  const connect = lines.find((l) => l.event === "connect" && l.transport === "ws");
  assert.ok(connect, `a connect line in:\n${stderr}`);
  assert.equal(connect.level, "info");
  assert.equal(typeof connect.session, "string");
  assert.ok(!Number.isNaN(Date.parse(String(connect.ts))));
  const disconnect = lines.find((l) => l.event === "disconnect" && l.session === connect.session);
  assert.ok(disconnect, "the same session's disconnect");
  const install = lines.find((l) => l.event === "policy.publish");
  assert.ok(install, `a policy install line in:\n${stderr}`);
  assert.equal(install.name, "cap");
  assert.equal(install.actor, "http", "an open node names HTTP callers http");
  // Nothing else on stderr is half a JSON line.
  for (const line of stderr.split("\n")) {
    if (line.includes('"event"')) assert.ok(line.startsWith("{") && line.endsWith("}"));
  }
});

Deno.test("log level error: no connect lines are written", async () => {
  const node = await spawnNode(["--memory", "--log-format", "json", "--log-level", "error"]);
  let stderr = "";
  try {
    const ws = await RawSocket.open(node.wsUrl, "arqon.v1.proto");
    ws.send(pb([[F.hello, [[1, "quiet-client"], [2, 1]]]]));
    await ws.wait(F.welcome);
    await ws.close();
  } finally {
    stderr = await stop(node);
  }
  assert.equal(jsonLines(stderr).filter((l) => l.event === "connect").length, 0, stderr);
});

Deno.test("log flags: an unknown format is refused at start with a clear message", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", "--memory", "--port", "0", "--log-format", "xml"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.notEqual(out.code, 0);
  assert.match(new TextDecoder().decode(out.stderr), /log-format/);
});
