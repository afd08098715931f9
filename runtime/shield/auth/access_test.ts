import assert from "node:assert/strict";
import client from "prom-client";
import { BusError } from "../../protocol/mod.ts";
import { AuditLog } from "../../telemetry/audit/mod.ts";
import { Authenticator, NodeAccess, parseGrants } from "./mod.ts";

function openNode(options: ConstructorParameters<typeof NodeAccess>[0]) {
  const registry = new client.Registry();
  const access = new NodeAccess(options, new Authenticator(), registry);
  const audit = AuditLog.open({ path: null });
  access.setAudit(audit);
  return { access, audit, registry };
}

Deno.test("an unacknowledged flood gets one RATE_LIMITED notice, then quiet drops", () => {
  const { access } = openNode({ ratePulses: 5, rateKick: 0 });
  const session = access.session("ws");
  let admitted = 0;
  let notices = 0;
  let quiet = 0;
  for (let i = 0; i < 50; i++) {
    try {
      if (session.admitPublish("lab", "t.x", 10, false)) admitted++;
      else quiet++;
    } catch (e) {
      assert.ok(e instanceof BusError && e.code === "RATE_LIMITED");
      notices++;
    }
  }
  assert.ok(admitted >= 5 && admitted <= 6, String(admitted));
  assert.equal(notices, 1);
  assert.equal(admitted + notices + quiet, 50);
  // Acknowledged publishes are always answered.
  assert.throws(() => session.admitPublish("lab", "t.x", 10, true), /over its limit/);
});

Deno.test("sustained flooding past --rate-kick closes the connection and is audited", async () => {
  const { access, audit, registry } = openNode({ ratePulses: 5, rateKick: 20 });
  const reasons: string[] = [];
  const session = access.session("ws", (reason) => reasons.push(reason));
  for (let i = 0; i < 100; i++) {
    try {
      session.admitPublish("lab", "t.x", 10, false);
    } catch { /* the one notice */ }
  }
  assert.equal(reasons.length, 1);
  assert.match(reasons[0], /rate limit exceeded: 20 refusals in 1 s/);
  assert.ok(new TextEncoder().encode(reasons[0]).length <= 123, "fits a WebSocket close reason");
  assert.equal(session.admitPublish("lab", "t.x", 10, true), false, "nothing passes after a kick");
  const entries = audit.list();
  assert.equal(entries.length, 1);
  assert.equal(entries[0].action, "connection.kick");
  assert.equal(entries[0].details.transport, "ws");
  assert.ok(audit.verify().ok);
  assert.match(await registry.metrics(), /arqon_kicks_total\{transport="ws",reason="rate"\} 1/);
});

Deno.test("a client kicked again and again is audited once a second, the rest counted", () => {
  const { access, audit } = openNode({ ratePulses: 5, rateKick: 20, banSeconds: 0 });
  const flood = (remote: string) => {
    const session = access.session("ws", () => {}, remote);
    for (let i = 0; i < 40; i++) {
      try {
        session.admitPublish("lab", "t.x", 10, false);
      } catch { /* the one notice */ }
    }
  };
  for (let port = 5000; port < 5005; port++) flood(`10.0.0.7:${port}`);
  flood("10.0.0.8:6000");
  const kicks = audit.list().filter((e) => e.action === "connection.kick");
  assert.deepEqual(kicks.map((e) => e.details.remote), ["10.0.0.7:5000", "10.0.0.8:6000"]);
  assert.ok(audit.verify().ok);
});

Deno.test("sys.control.* publishes are audited with the publisher's subject", () => {
  const { access, audit } = openNode({});
  const session = access.session("ws");
  session.bind({
    ...parseGrants({ realities: ["*"], roles: ["controller"] }),
    subject: "ops-bot",
    method: "token",
  });
  session.admitPublish("lab", "sys.control.kick", 0);
  session.admitPublish("lab", "orders.created", 0);
  const entries = audit.list();
  assert.equal(entries.length, 1);
  assert.equal(entries[0].action, "control.publish");
  assert.equal(entries[0].actor, "ops-bot");
  assert.deepEqual(entries[0].details, {
    reality: "lab",
    topic: "sys.control.kick",
    transport: "ws",
  });
  // A client may not publish there at all.
  const other = access.session("ws");
  other.bind({
    ...parseGrants({ realities: ["*"], roles: ["client"] }),
    subject: "c",
    method: "token",
  });
  assert.throws(() => other.admitPublish("lab", "sys.control.kick", 0), /may not publish/);
  assert.equal(audit.list().length, 1);
});
