/**
 * MQTT clients are sessions like any other: with auth on, the password carries the token
 * and the user name the reality; grants, CASIL policies, their denials and rate limits apply. How a
 * refusal reaches an MQTT publisher: a CONNACK refusal at connect; for a QoS 1 publish, an
 * MQTT 5 PUBACK with reason 0x87 (not authorized) and the node's message as reason string,
 * and for 3.1.1 (which has no negative PUBACK) the connection is closed without a PUBACK.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { builtinComponent } from "../casil/mod.ts";
import type { ArqonNode } from "../mod.ts";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { metric, withNode } from "./support/node.ts";
import { deliveries, F, RawMqtt, runTool, sleep, wsClient, wsSubscribe } from "./mqtt_support.ts";

Deno.test("auth: the token rides in the password, the reality in the user name; grants apply", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arqon-mqtt-auth-" });
  try {
    const key = await writeNodeKeyFile(`${dir}/node.key`);
    const alice = await issueToken(key, {
      subject: "alice",
      realities: ["lab"],
      publish: { allow: ["orders.>"], deny: ["orders.secret.>"] },
      subscribe: { allow: ["orders.>"], deny: ["orders.secret.>"] },
    });
    const admin = await issueToken(key, { subject: "root", roles: ["admin"] });
    await withNode(async (node: ArqonNode) => {
      const port = String(node.mqttPort);
      const ws = await wsClient(node.wsUrl, admin);
      try {
        ws.send(wsSubscribe(1, "orders.>", "lab"));
        await ws.wait(F.subscribed);
        // No token, a forged one: refused at CONNACK.
        for (const extra of [[], ["-u", "lab", "-P", "not-a-token"]]) {
          const r = await runTool("mosquitto_pub", [
            "-p",
            port,
            "-t",
            "orders/x",
            "-m",
            "1",
            ...extra,
          ]);
          assert.notEqual(r.code, 0);
          assert.match(r.stderr, /Connection Refused: bad user name or password/);
        }
        const ok = await runTool("mosquitto_pub", [
          "-p",
          port,
          "-u",
          "lab",
          "-P",
          alice,
          "-t",
          "orders/eu/created",
          "-m",
          "ok",
          "-q",
          "1",
        ]);
        assert.equal(ok.code, 0, ok.stderr);
        await ws.until(() => deliveries(ws).length === 1, "the delivery");
        assert.deepEqual(deliveries(ws), ["orders.eu.created ok"]);

        // A denied topic: 3.1.1 closes without PUBACK, 5.0 answers PUBACK 0x87.
        const v4 = await RawMqtt.connect(node.mqttPort!, {
          username: "lab",
          password: Buffer.from(alice),
        });
        await v4.publish("orders/secret/keys", "no", { qos: 1, messageId: 1 });
        await v4.untilClosed();
        assert.equal(v4.received.some((p) => p.cmd === "puback"), false);
        const v5 = await RawMqtt.connect(
          node.mqttPort!,
          { username: "lab", password: Buffer.from(alice) },
          5,
        );
        await v5.publish("orders/secret/keys", "no", { qos: 1, messageId: 9 });
        const nack = await v5.next("puback");
        assert.equal(nack.messageId, 9);
        assert.equal(nack.reasonCode, 0x87);
        // Subscribing outside the grants: SUBACK failure for that filter only.
        await v5.send({
          cmd: "subscribe",
          messageId: 2,
          subscriptions: [{ topic: "orders/secret/#", qos: 0 }, {
            topic: "orders/+/created",
            qos: 1,
          }],
        });
        assert.deepEqual((await v5.next("suback")).granted, [0x87, 1]);
        v5.close();
        assert.ok(
          await metric(node, "arqon_errors_total", 'transport="mqtt",code="FORBIDDEN"') >= 3,
        );
        // Retained copies pass the same read check as live deliveries: a topic denied
        // inside an allowed filter is not served from the retained store either.
        const root = await RawMqtt.connect(node.mqttPort!, {
          username: "lab",
          password: Buffer.from(admin),
        });
        await root.publish("orders/secret/keys", "k", { qos: 1, messageId: 1, retain: true });
        await root.publish("orders/eu/latest", "l", { qos: 1, messageId: 2, retain: true });
        await root.next("puback");
        await root.next("puback");
        root.close();
        const late = await runTool("mosquitto_sub", [
          "-p",
          port,
          "-u",
          "lab",
          "-P",
          alice,
          "-t",
          "orders/#",
          "-v",
          "-W",
          "2",
        ]);
        assert.equal(late.stdout.trim(), "orders/eu/latest l");
        // Only the allowed pulses ever reached the subscriber.
        await sleep(100);
        assert.deepEqual(deliveries(ws), [
          "orders.eu.created ok",
          "orders.secret.keys k",
          "orders.eu.latest l",
        ]);
      } finally {
        await ws.close();
      }
    }, { mqttPort: 0, memory: true, authKey: `${dir}/node.key`, metricsOpen: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CASIL: a policy denial reaches an MQTT 5 publisher as PUBACK 0x87 with the reason", async () => {
  await withNode(async (node) => {
    const res = await fetch(`${node.url}/v1/policies/energy?topic=nvm.>`, {
      method: "PUT",
      body: await builtinComponent("energy_cap"),
    });
    assert.equal(res.status, 201);
    const ws = await wsClient(node.wsUrl);
    try {
      ws.send(wsSubscribe(1, "nvm.>"));
      await ws.wait(F.subscribed);
      const v5 = await RawMqtt.connect(node.mqttPort!, {}, 5);
      await v5.publish("nvm/job/submit", '{"joules":75}', { qos: 1, messageId: 1 });
      const denied = await v5.next("puback");
      assert.equal(denied.reasonCode, 0x87);
      assert.equal(
        (denied.properties as { reasonString?: string }).reasonString,
        "energy: energy cap: requested 75.0 J exceeds the limit of 50.0 J",
      );
      await v5.publish("nvm/job/submit", '{"joules":40}', { qos: 1, messageId: 2 });
      const accepted = await v5.next("puback");
      assert.deepEqual([accepted.messageId, accepted.reasonCode], [2, 0]);
      // mosquitto_pub (5.0) is told too, and says so.
      const cli = await runTool("mosquitto_pub", [
        "-p",
        String(node.mqttPort),
        "-V",
        "mqttv5",
        "-q",
        "1",
        "-t",
        "nvm/job/submit",
        "-m",
        '{"joules":99}',
        "-d",
      ]);
      assert.match(cli.stdout, /received PUBACK \(Mid: 1, RC:135\)/);
      // 3.1.1: the connection is closed, no PUBACK claims the denied pulse was taken.
      const v4 = await RawMqtt.connect(node.mqttPort!);
      await v4.publish("nvm/job/submit", '{"joules":80}', { qos: 1, messageId: 5 });
      await v4.untilClosed();
      assert.equal(v4.received.some((p) => p.cmd === "puback"), false);
      await ws.until(() => deliveries(ws).length === 1, "the accepted pulse");
      await sleep(100);
      assert.deepEqual(deliveries(ws), ['nvm.job.submit {"joules":40}']);
      assert.equal(
        await metric(node, "arqon_policy_denials_total", 'policy="energy",reason="denied"'),
        3,
      );
      v5.close();
    } finally {
      await ws.close();
    }
  }, { mqttPort: 0, memory: true });
});

Deno.test("rate limits apply per MQTT connection: past --rate-pulses, 5.0 PUBACK 0x97", async () => {
  await withNode(async (node) => {
    const v5 = await RawMqtt.connect(node.mqttPort!, {}, 5);
    for (let i = 1; i <= 30; i++) {
      await v5.publish("meter/m1", String(i), { qos: 1, messageId: i });
    }
    const codes: number[] = [];
    for (let i = 0; i < 30; i++) codes.push((await v5.next("puback")).reasonCode as number);
    const accepted = codes.filter((c) => c === 0).length;
    const limited = codes.filter((c) => c === 0x97).length;
    assert.equal(accepted + limited, 30, `only success or quota exceeded: ${codes}`);
    assert.ok(accepted >= 10 && accepted < 30, `${accepted} accepted of 30 at 10/s`);
    assert.ok(
      await metric(node, "arqon_rate_limited_total", 'scope="connection"') >= limited,
    );
    // Another connection has its own bucket.
    const other = await RawMqtt.connect(node.mqttPort!, {}, 5);
    await other.publish("meter/m2", "1", { qos: 1, messageId: 1 });
    assert.equal((await other.next("puback")).reasonCode, 0);
    v5.close();
    other.close();
  }, { mqttPort: 0, memory: true, ratePulses: 10 });
});
