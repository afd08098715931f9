/**
 * Control parameters end to end (issue 12 item 7, PRD FR-EMERG-02): a real node on an
 * ephemeral port; `sys.control.set` published from raw WebSocket clients (hand-built
 * protobuf frames and the JSON subprotocol) and over HTTP; `GET /v1/realities/{r}/params`
 * and the audit log read with fetch; persistence across a restart; refusals past every
 * bound; the permission check with auth on.
 */
import assert from "node:assert/strict";
import { startNode } from "../mod.ts";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { F, msg, num, pb, str } from "./support/pb.ts";
import { RawSocket } from "./support/raw_ws.ts";
import { metric, withNode } from "./support/node.ts";

const enc = new TextEncoder();

const hello = (name: string) => pb([[F.hello, [[1, name], [2, 1]]]]);
const subscribe = (id: number, pattern: string, corr: number) =>
  pb([[F.subscribe, [[1, id], [3, pattern], [12, corr]]]]);
const publishFrame = (corr: number, topic: string, payload: string | Uint8Array) =>
  pb([[F.publish, [[1, corr], [2, 1], [3, [[3, topic], [
    11,
    typeof payload === "string" ? enc.encode(payload) : payload,
  ]]]]]]);

/** A raw proto client, welcomed, optionally subscribed to `pattern`. */
async function protoClient(url: string, name: string, pattern?: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, "arqon.v1.proto");
  s.send(hello(name));
  await s.wait(F.welcome);
  if (pattern) {
    s.send(subscribe(1, pattern, 99));
    await s.wait(F.subscribed);
  }
  return s;
}

/** Publishes with correlation `corr` and waits for its ack or error: [kind, body]. */
async function publishAndWait(
  s: RawSocket,
  corr: number,
  topic: string,
  payload: string | Uint8Array,
): Promise<[number, ReturnType<typeof msg>]> {
  s.send(publishFrame(corr, topic, payload));
  let found: [number, ReturnType<typeof msg>] | undefined;
  await s.until(() => {
    found = s.received.find(([k, m]) =>
      (k === F.ack || k === F.error) && (k === F.ack ? num(m, 1) : num(m, 3)) === corr
    );
    return found !== undefined;
  }, `answer to ${corr}`);
  return found!;
}

const set = (params: Record<string, unknown>) => JSON.stringify({ params });

async function getParams(url: string, reality = "default", token?: string) {
  const res = await fetch(`${url}/v1/realities/${reality}/params`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: await res.json() };
}

async function auditEntries(url: string, token?: string) {
  const res = await fetch(`${url}/v1/audit?limit=1000`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  assert.equal(res.status, 200);
  const body = await res.json() as {
    entries: { action: string; actor: string; details: Record<string, unknown> }[];
  };
  return body.entries.filter((e) => e.action === "control.set");
}

Deno.test("sys.control.set is merged, versioned, delivered to sys.control.> and audited", async () => {
  await withNode(async (node) => {
    const watcher = await protoClient(node.wsUrl, "watcher", "sys.control.>");
    const ctl = await protoClient(node.wsUrl, "ctl");
    assert.equal((await getParams(node.url)).body.version, 0);

    const [kind, ack] = await publishAndWait(ctl, 1, "sys.control.set", set({ k_c: 0.7 }));
    assert.equal(kind, F.ack);
    let got = await getParams(node.url);
    assert.equal(got.status, 200);
    assert.equal(got.body.version, 1);
    assert.deepEqual(got.body.params, { k_c: 0.7 });
    assert.ok(Math.abs(Date.parse(got.body.updated_at) - Date.now()) < 60_000);

    // Merge: a new name is added, null removes one.
    await publishAndWait(ctl, 2, "sys.control.set", set({ mode: "fast", gain: [1, 2] }));
    await publishAndWait(ctl, 3, "sys.control.set", set({ gain: null }));
    got = await getParams(node.url);
    assert.equal(got.body.version, 3);
    assert.deepEqual(got.body.params, { k_c: 0.7, mode: "fast" });

    // Over HTTP: the same path (and the same version counter).
    const res = await fetch(`${node.url}/v1/realities/default/topics/sys.control.set`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: set({ k_c: 0.8 }),
    });
    assert.equal(res.status, 200);
    got = await getParams(node.url);
    assert.equal(got.body.version, 4);
    assert.deepEqual(got.body.params, { k_c: 0.8, mode: "fast" });

    // Every change reached the sys.control.> subscriber, in order, as published.
    await watcher.until(() => watcher.of(F.deliver).length === 4, "4 control deliveries");
    const pulses = watcher.of(F.deliver).map((d) => msg(d, 2));
    assert.deepEqual(pulses.map((p) => str(p, 3)), Array(4).fill("sys.control.set"));
    assert.deepEqual(JSON.parse(str(pulses[0], 11)), { params: { k_c: 0.7 } });
    assert.equal(num(pulses[0], 2), num(ack, 3), "the delivered pulse is the acked one");
    assert.equal(str(pulses[0], 4), "ctl");

    // The audit log holds each change with actor, reality, version and params.
    const entries = await auditEntries(node.url);
    assert.deepEqual(entries.map((e) => e.details.version), [1, 2, 3, 4]);
    assert.deepEqual(entries.map((e) => e.actor), ["ctl", "ctl", "ctl", "http"]);
    assert.deepEqual(entries[0].details.params, { k_c: 0.7 });
    assert.equal(entries[0].details.reality, "default");
    assert.equal(entries[0].details.sequence, num(ack, 3));
    assert.ok(node.audit.verify().ok);

    // Another reality has a set of its own; an unknown one is a typed 404.
    const lab = await fetch(`${node.url}/v1/realities/lab/topics/sys.control.set`, {
      method: "POST",
      body: set({ x: 1 }),
    });
    assert.equal(lab.status, 200);
    assert.deepEqual((await getParams(node.url, "lab")).body, {
      reality: "lab",
      version: 1,
      params: { x: 1 },
      updated_at: (await getParams(node.url, "lab")).body.updated_at,
    });
    assert.equal((await getParams(node.url)).body.version, 4);
    // Hostile nesting (the audit log serialises recursively): refused, the node serves on.
    const deep = `{"params":{"a":${"[".repeat(20_000)}${"]".repeat(20_000)}}}`;
    const [deepKind, deepError] = await publishAndWait(ctl, 6, "sys.control.set", deep);
    assert.equal(deepKind, F.error);
    assert.equal(num(deepError, 1), 19);
    assert.match(str(deepError, 2), /nests deeper than 32 levels/);
    assert.equal((await getParams(node.url)).body.version, 4);
    const unknown = await getParams(node.url, "nowhere");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "NOT_FOUND");
    await watcher.close();
    await ctl.close();
  });
});

Deno.test("bad and oversized control changes are typed errors; nothing changes; others are served", async () => {
  await withNode(async (node) => {
    const watcher = await protoClient(node.wsUrl, "watcher", ">");
    const ctl = await protoClient(node.wsUrl, "ctl");
    const [, first] = await publishAndWait(ctl, 1, "sys.control.set", set({ a: 1 }));
    const refusals: [string | Uint8Array, number, RegExp][] = [
      ["not json", 19, /must be JSON/],
      [JSON.stringify([1]), 19, /JSON object/],
      [JSON.stringify({ params: 3 }), 19, /"params" must be a JSON object/],
      [JSON.stringify({ params: {}, extra: 1 }), 19, /unknown field "extra"/],
      [set({}), 19, /names no parameter/],
      [set({ "bad name": 1 }), 19, /parameter name/],
      [new Uint8Array([0xff, 0xfe, 0x7b]), 19, /must be JSON/],
      // Past --control-max-params (4): a, b, c, d, e.
      [set({ b: 1, c: 2, d: 3, e: 4 }), 21, /would number 5, more than the limit of 4/],
      // Past --control-max-bytes (200) once merged.
      [set({ b: "x".repeat(190) }), 21, /more than the limit of 200/],
      // A payload far past the bound is refused before it is parsed.
      [set({ b: "x".repeat(100_000) }), 21, /payload of \d+ bytes is over the limit/],
    ];
    let corr = 10;
    for (const [payload, code, message] of refusals) {
      const [kind, body] = await publishAndWait(ctl, ++corr, "sys.control.set", payload);
      assert.equal(kind, F.error, `refused: ${String(payload).slice(0, 40)}`);
      assert.equal(num(body, 1), code, str(body, 2));
      assert.match(str(body, 2), message);
    }
    // At the bounds exactly: accepted (4 params).
    const [okKind, ok] = await publishAndWait(
      ctl,
      50,
      "sys.control.set",
      set({ b: 2, c: 3, d: 4 }),
    );
    assert.equal(okKind, F.ack);
    assert.equal(num(ok, 3), num(first, 3) + 1, "refused changes took no sequence");
    const got = await getParams(node.url);
    assert.equal(got.body.version, 2);
    assert.deepEqual(got.body.params, { a: 1, b: 2, c: 3, d: 4 });
    // Deleting makes room again.
    const [delKind] = await publishAndWait(ctl, 51, "sys.control.set", set({ a: null, e: 5 }));
    assert.equal(delKind, F.ack);
    assert.deepEqual((await getParams(node.url)).body.params, { b: 2, c: 3, d: 4, e: 5 });

    // Over HTTP: a 4xx with a JSON error.
    const res = await fetch(`${node.url}/v1/realities/default/topics/sys.control.set`, {
      method: "POST",
      body: set({ f: 1 }),
    });
    assert.equal(res.status, 429);
    assert.equal((await res.json()).error.code, "QUOTA_EXCEEDED");

    // Plain pub/sub kept flowing; refused changes were delivered to nobody.
    await publishAndWait(ctl, 60, "chat.msg", "hi");
    await watcher.until(() => watcher.of(F.deliver).length === 4, "4 deliveries");
    assert.deepEqual(
      watcher.of(F.deliver).map((d) => str(msg(d, 2), 3)),
      ["sys.control.set", "sys.control.set", "sys.control.set", "chat.msg"],
    );
    assert.equal((await auditEntries(node.url)).length, 3);
    // The bounds show in the metrics (the HTTP refusal included).
    const hits = (limit: string) => metric(node, "arqon_limit_hits_total", `limit="${limit}"`);
    assert.equal(await hits("control_max_params"), 2);
    assert.equal(await hits("control_max_bytes"), 2);
    await watcher.close();
    await ctl.close();
  }, { controlMaxParams: 4, controlMaxBytes: 200 });
});

Deno.test("control parameters persist across a node restart (data dir)", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "arqon-control-" });
  try {
    const config = { port: 0, log: "quiet" as const, shutdownGraceMs: 500, dataDir };
    let node = await startNode(config);
    try {
      const ctl = await protoClient(node.wsUrl, "ctl");
      await publishAndWait(ctl, 1, "sys.control.set", set({ k_c: 0.7 }));
      await publishAndWait(ctl, 2, "sys.control.set", set({ emergence_threshold: 0.8 }));
      const lab = JSON.stringify({ params: { k_c: 0.1 } });
      const res = await fetch(`${node.url}/v1/realities/lab/topics/sys.control.set`, {
        method: "POST",
        body: lab,
      });
      assert.equal(res.status, 200);
      await ctl.close();
    } finally {
      await node.shutdown();
    }
    node = await startNode(config);
    try {
      let got = await getParams(node.url);
      assert.equal(got.body.version, 2);
      assert.deepEqual(got.body.params, { k_c: 0.7, emergence_threshold: 0.8 });
      assert.deepEqual((await getParams(node.url, "lab")).body.params, { k_c: 0.1 });
      // Versions continue; the audit log (a file under the data dir) kept the old entries.
      const ctl = await protoClient(node.wsUrl, "ctl");
      await publishAndWait(ctl, 1, "sys.control.set", set({ k_c: 0.9 }));
      got = await getParams(node.url);
      assert.equal(got.body.version, 3);
      assert.deepEqual(got.body.params, { k_c: 0.9, emergence_threshold: 0.8 });
      const entries = await auditEntries(node.url);
      assert.deepEqual(entries.map((e) => [e.details.reality, e.details.version]), [
        ["default", 1],
        ["default", 2],
        ["lab", 1],
        ["default", 3],
      ]);
      assert.ok(node.audit.verify().ok);
      await ctl.close();
    } finally {
      await node.shutdown();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("with auth on: only controllers and admins set parameters; reads need the reality", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-control-auth-" });
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  const node = await startNode({
    port: 0,
    log: "quiet",
    memory: true,
    shutdownGraceMs: 500,
    authKey: `${dir}/node.key`,
  });
  const token = (subject: string, roles: string[], realities = ["lab"]) =>
    issueToken(key, { subject, realities, roles: roles as never });
  const jsonClient = async (tok: string) => {
    const s = await RawSocket.open(node.wsUrl, "arqon.v1.json");
    s.send(JSON.stringify({ hello: { clientName: "c", protocolVersion: 1, token: tok } }));
    await s.until(() => s.json.some((f) => f.welcome), "welcome");
    return s;
  };
  const publish = (s: RawSocket, corr: number, payload: string) =>
    s.send(JSON.stringify({
      publish: {
        correlationId: String(corr),
        ack: "ACK_MODE_RECEIVED",
        pulse: { topic: "sys.control.set", realityId: "lab", payload: btoa(payload) },
      },
    }));
  const answer = async (s: RawSocket, corr: number) => {
    const match = (f: Record<string, unknown>) => {
      const body = (f.ack ?? f.error) as { correlationId?: string } | undefined;
      return body?.correlationId === String(corr);
    };
    await s.until(() => s.json.some(match), `answer ${corr}`);
    return s.json.find(match)!;
  };
  try {
    const admin = await token("root", ["admin"], ["*"]);
    // Create the reality first (a * grant uses realities, only admins add them).
    assert.equal(
      (await fetch(`${node.url}/v1/realities`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "lab" }),
      })).status,
      201,
    );
    const client = await jsonClient(await token("mallory", ["client"]));
    publish(client, 1, set({ k_c: 9 }));
    const refused = await answer(client, 1) as { error?: { code: string; message: string } };
    assert.equal(refused.error?.code, "ERROR_CODE_FORBIDDEN", JSON.stringify(refused));
    assert.match(refused.error!.message, /may not publish to "sys.control.set"/);
    // Over HTTP too.
    const res = await fetch(`${node.url}/v1/realities/lab/topics/sys.control.set`, {
      method: "POST",
      headers: { authorization: `Bearer ${await token("mallory", ["client"])}` },
      body: set({ k_c: 9 }),
    });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error.code, "FORBIDDEN");

    const controller = await jsonClient(await token("ctl-1", ["controller"]));
    publish(controller, 2, set({ k_c: 0.7 }));
    assert.ok((await answer(controller, 2)).ack, "a controller is acked");
    const adminWs = await jsonClient(admin);
    publish(adminWs, 3, set({ mode: "x" }));
    assert.ok((await answer(adminWs, 3)).ack, "an admin is acked");

    // Reading: a principal of the reality may; one of another reality may not; none: 401.
    const reader = await token("reader", ["client"]);
    const got = await getParams(node.url, "lab", reader);
    assert.equal(got.status, 200);
    assert.equal(got.body.version, 2);
    assert.deepEqual(got.body.params, { k_c: 0.7, mode: "x" });
    const outsider = await token("outsider", ["client"], ["other"]);
    assert.equal((await getParams(node.url, "lab", outsider)).status, 403);
    assert.equal((await getParams(node.url, "lab")).status, 401);

    const entries = await auditEntries(node.url, admin);
    assert.deepEqual(entries.map((e) => [e.actor, e.details.version]), [["ctl-1", 1], [
      "root",
      2,
    ]]);
    for (const s of [client, controller, adminWs]) await s.close();
  } finally {
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
