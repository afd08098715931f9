/**
 * Request inboxes are capabilities: a principal whose grants allow it to publish nothing
 * useful must not forge the reply to another principal's request, whether it guessed the
 * inbox's name or learnt it; inbox names are unguessable; and no wildcard subscription
 * (`>`, `*.*`) or history read sees the replies. Raw JSON frames over real sockets and
 * fetch, no SDK.
 */
import assert from "node:assert/strict";
import { type ArqonNode, startNode } from "../../mod.ts";
import {
  issueToken,
  type NodeSigningKey,
  writeNodeKeyFile,
} from "../../runtime/shield/auth/mod.ts";
import { RawSocket } from "../support/raw_ws.ts";
import { sleep } from "../support/node.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

interface Fixture {
  node: ArqonNode;
  key?: NodeSigningKey;
}

async function withNode(auth: boolean, fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "arqon-inbox-" });
  const key = auth ? await writeNodeKeyFile(`${dir}/node.key`) : undefined;
  const node = await startNode({
    port: 0,
    log: "quiet",
    memory: true,
    shutdownGraceMs: 200,
    ...(auth ? { authKey: `${dir}/node.key` } : {}),
  });
  try {
    await fn({ node, key });
  } finally {
    await node.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A raw JSON-subprotocol client that said hello (with a token when given). */
async function client(node: ArqonNode, token?: string): Promise<RawSocket> {
  const s = await RawSocket.open(node.wsUrl, "arqon.v1.json");
  s.send(JSON.stringify({ hello: { protocolVersion: 1, ...(token ? { token } : {}) } }));
  await s.until(() => s.json.some((f) => f.welcome), "welcome");
  return s;
}

function frames(s: RawSocket, kind: string): Json[] {
  return (s.json as Json[]).filter((f) => f[kind]).map((f) => f[kind]);
}

async function subscribe(s: RawSocket, id: number, pattern: string): Promise<Json> {
  s.send(JSON.stringify({ subscribe: { subscriptionId: id, pattern, correlationId: String(id) } }));
  await s.until(
    () =>
      frames(s, "subscribed").some((f) => f.subscriptionId === id) ||
      frames(s, "error").some((f) => Number(f.correlationId) === id),
    `answer to subscribe ${pattern}`,
  );
  return (s.json as Json[]).find((f) =>
    f.subscribed?.subscriptionId === id || Number(f.error?.correlationId) === id
  )!;
}

/** Publishes with an ack; resolves with the ack or the error frame. */
async function publish(s: RawSocket, corr: number, topic: string, text: string): Promise<Json> {
  s.send(JSON.stringify({
    publish: { correlationId: String(corr), ack: 1, pulse: { topic, payload: btoa(text) } },
  }));
  const answer = () =>
    (s.json as Json[]).find((f) =>
      Number(f.ack?.correlationId) === corr || Number(f.error?.correlationId) === corr
    );
  await s.until(() => answer() !== undefined, `answer to publish ${corr}`);
  return answer()!;
}

function request(s: RawSocket, corr: number, topic: string, text: string): void {
  s.send(JSON.stringify({
    request: {
      correlationId: String(corr),
      timeoutMs: 4000,
      pulse: { topic, payload: btoa(text) },
    },
  }));
}

/** Waits for the request's delivery at the responder and returns its inbox. */
async function deliveredInbox(responder: RawSocket, n: number): Promise<string> {
  await responder.until(() => frames(responder, "deliver").length >= n, "request delivery");
  return frames(responder, "deliver")[n - 1].pulse.replyTo as string;
}

async function tokens(key: NodeSigningKey) {
  const realities = ["default"];
  return {
    requester: await issueToken(key, {
      subject: "requester",
      realities,
      publish: { allow: ["svc.>"] },
      subscribe: { allow: ["nothing.>"] },
    }),
    responder: await issueToken(key, {
      subject: "responder",
      realities,
      publish: { allow: ["nothing.>"] },
      subscribe: { allow: ["svc.>"] },
    }),
    // Publishes nowhere useful; reads everything it is granted.
    attacker: await issueToken(key, {
      subject: "mallory",
      realities,
      publish: { allow: ["nothing.>"] },
      subscribe: { allow: [">"] },
    }),
  };
}

Deno.test("inbox: a principal limited to nothing.> cannot forge another's reply", async () => {
  await withNode(true, async ({ node, key }) => {
    const t = await tokens(key!);
    const requester = await client(node, t.requester);
    const responder = await client(node, t.responder);
    const mallory = await client(node, t.attacker);
    try {
      await subscribe(responder, 1, "svc.echo");
      request(requester, 7, "svc.echo", "ping");
      const inbox = await deliveredInbox(responder, 1);
      // Mallory learnt the inbox (a leak, a log): over WebSocket and over HTTP, refused.
      const forged = await publish(mallory, 21, inbox, "forged");
      assert.equal(forged.error?.code, "ERROR_CODE_FORBIDDEN", JSON.stringify(forged));
      const http = await fetch(`${node.url}/v1/realities/default/topics/${inbox}`, {
        method: "POST",
        headers: { authorization: `Bearer ${t.attacker}` },
        body: "forged",
      });
      assert.equal(http.status, 403);
      assert.equal((await http.json()).error.code, "FORBIDDEN");
      // The responder the request reached answers, whatever its own publish grants.
      const ok = await publish(responder, 22, inbox, "pong");
      assert.ok(ok.ack, JSON.stringify(ok));
      await requester.until(() => frames(requester, "reply").length === 1, "reply");
      assert.equal(atob(frames(requester, "reply")[0].pulse.payload), "pong");
      // Once answered, the inbox is closed even to its responder.
      const late = await publish(responder, 23, inbox, "again");
      assert.equal(late.error?.code, "ERROR_CODE_FORBIDDEN");
      // Naming an inbox as one's own reply_to is refused too.
      mallory.send(JSON.stringify({
        publish: {
          correlationId: "24",
          ack: 1,
          pulse: { topic: "nothing.x", replyTo: inbox, payload: "" },
        },
      }));
      await mallory.until(() => frames(mallory, "error").some((e) => e.correlationId === "24"));
    } finally {
      await Promise.all([requester.close(), responder.close(), mallory.close()]);
    }
  });
});

Deno.test("inbox: names are unguessable (128 random bits each)", async () => {
  await withNode(false, async ({ node }) => {
    const requester = await client(node);
    const responder = await client(node);
    try {
      await subscribe(responder, 1, "svc.echo");
      const seen: string[] = [];
      for (let i = 1; i <= 3; i++) {
        request(requester, i, "svc.echo", "ping");
        const inbox = await deliveredInbox(responder, i);
        assert.match(inbox, /^_inbox\.[0-9a-f]{32}$/);
        seen.push(inbox);
        assert.ok(
          (await publish(responder, 100 + i, inbox, "pong")).ack,
          "the responder answers",
        );
      }
      assert.equal(new Set(seen).size, 3);
    } finally {
      await Promise.all([requester.close(), responder.close()]);
    }
  });
});

Deno.test("inbox: on an open node, only the connection the request reached may reply", async () => {
  await withNode(false, async ({ node }) => {
    const requester = await client(node);
    const responder = await client(node);
    const other = await client(node);
    try {
      await subscribe(responder, 1, "svc.echo");
      request(requester, 7, "svc.echo", "ping");
      const inbox = await deliveredInbox(responder, 1);
      const forged = await publish(other, 21, inbox, "forged");
      assert.equal(forged.error?.code, "ERROR_CODE_FORBIDDEN");
      assert.ok((await publish(responder, 22, inbox, "pong")).ack);
      await requester.until(() => frames(requester, "reply").length === 1, "reply");
      assert.equal(atob(frames(requester, "reply")[0].pulse.payload), "pong");
    } finally {
      await Promise.all([requester.close(), responder.close(), other.close()]);
    }
  });
});

Deno.test("inbox: wildcard subscriptions and history never see replies", async () => {
  await withNode(false, async ({ node }) => {
    const requester = await client(node);
    const responder = await client(node);
    const watcher = await client(node);
    try {
      // Keep everything in the log: history then holds whatever a `>` rule matches.
      const created = await fetch(`${node.url}/v1/realities`, {
        method: "POST",
        body: JSON.stringify({ name: "default", retention: [{ pattern: ">" }] }),
      });
      assert.equal(created.status, 201, await created.text());
      assert.ok((await subscribe(watcher, 1, ">")).subscribed);
      assert.ok((await subscribe(watcher, 2, "*.*")).subscribed);
      assert.ok((await subscribe(watcher, 3, "*.>")).subscribed);
      const direct = await subscribe(watcher, 4, "_inbox.>");
      assert.equal(direct.error?.code, "ERROR_CODE_FORBIDDEN");
      await subscribe(responder, 1, "svc.echo");
      request(requester, 7, "svc.echo", "ping");
      const inbox = await deliveredInbox(responder, 1);
      assert.ok((await publish(responder, 22, inbox, "secret answer")).ack);
      await requester.until(() => frames(requester, "reply").length === 1, "reply");
      // A later pulse the watcher does see marks that everything before it was routed.
      assert.ok((await publish(requester, 30, "svc.done", "x")).ack ?? true);
      await watcher.until(
        () => frames(watcher, "deliver").some((d) => d.pulse.topic === "svc.done"),
        "svc.done",
      );
      await sleep(50);
      const topics = frames(watcher, "deliver").map((d) => d.pulse.topic as string);
      assert.ok(topics.includes("svc.echo"), "the request itself is an ordinary pulse");
      assert.deepEqual(topics.filter((t) => t.startsWith("_inbox")), []);
      // History: all of it, or by `>`, holds no reply either.
      for (const q of ["", "?pattern=%3E", "?pattern=*.*"]) {
        const res = await fetch(`${node.url}/v1/realities/default/history${q}`);
        await sleep(0);
        const text = await res.text();
        assert.equal(res.status, 200, text);
        assert.ok(text.includes("svc.echo"), `history${q} serves the request`);
        const stored = text.trim().split("\n").map((l) => JSON.parse(l).topic as string);
        assert.deepEqual(stored.filter((t) => t.startsWith("_inbox")), [], `history${q}`);
      }
    } finally {
      await Promise.all([requester.close(), responder.close(), watcher.close()]);
    }
  });
});

Deno.test("inbox: a responder on SSE replies over HTTP under its token; others may not", async () => {
  await withNode(true, async ({ node, key }) => {
    const t = await tokens(key!);
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    const abort = new AbortController();
    const sse = await fetch(`${node.url}/v1/realities/default/subscribe?pattern=svc.echo`, {
      headers: auth(t.responder),
      signal: abort.signal,
    });
    assert.equal(sse.status, 200);
    const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("event: subscribed")) text += (await reader.read()).value ?? "";
    const answered = fetch(`${node.url}/v1/realities/default/request/svc.echo?timeout_ms=4000`, {
      method: "POST",
      headers: auth(t.requester),
      body: "ping",
    });
    while (!text.includes("event: pulse")) text += (await reader.read()).value ?? "";
    const data = text.slice(text.indexOf("event: pulse"));
    const line = data.split("\n").find((l) => l.startsWith("data:"))!;
    const inbox = JSON.parse(line.slice(5)).replyTo as string;
    assert.match(inbox, /^_inbox\.[0-9a-f]{32}$/);
    const reply = (token: string, body: string) =>
      fetch(`${node.url}/v1/realities/default/topics/${inbox}`, {
        method: "POST",
        headers: auth(token),
        body,
      });
    const forged = await reply(t.attacker, "forged");
    assert.equal(forged.status, 403);
    await forged.body?.cancel();
    const ok = await reply(t.responder, "pong");
    assert.equal(ok.status, 200, await ok.text());
    const res = await answered;
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "pong");
    abort.abort();
    await reader.cancel().catch(() => {});
  });
});

Deno.test("inbox: in a queue group, only the member the request went to may reply", async () => {
  await withNode(false, async ({ node }) => {
    const requester = await client(node);
    const members = [await client(node), await client(node)];
    try {
      for (const m of members) {
        m.send(JSON.stringify({
          subscribe: { subscriptionId: 1, pattern: "svc.echo", queueGroup: "workers" },
        }));
        await m.until(() => frames(m, "subscribed").length === 1, "subscribed");
      }
      request(requester, 7, "svc.echo", "ping");
      await Promise.any(members.map((m) => m.until(() => frames(m, "deliver").length === 1)));
      const chosen = members.find((m) => frames(m, "deliver").length === 1)!;
      const other = members.find((m) => m !== chosen)!;
      assert.equal(frames(other, "deliver").length, 0);
      const inbox = frames(chosen, "deliver")[0].pulse.replyTo as string;
      assert.equal((await publish(other, 21, inbox, "forged")).error?.code, "ERROR_CODE_FORBIDDEN");
      assert.ok((await publish(chosen, 22, inbox, "pong")).ack);
      await requester.until(() => frames(requester, "reply").length === 1, "reply");
      assert.equal(atob(frames(requester, "reply")[0].pulse.payload), "pong");
    } finally {
      await Promise.all([requester.close(), ...members.map((m) => m.close())]);
    }
  });
});
