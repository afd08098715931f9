import assert from "node:assert/strict";
import {
  builtinComponent,
  loadPolicy,
  type PolicyInput,
  PolicySandbox,
  type PolicyVerdict,
} from "./mod.ts";
import { ComponentRejectedError, Engine } from "../runtime/sandbox/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const engine = new Engine();

async function sandbox(name: string, config = "{}"): Promise<PolicySandbox> {
  return new PolicySandbox(await loadPolicy(engine, await builtinComponent(name)), config);
}

function run(sb: PolicySandbox, topic: string, payload: string): PolicyVerdict {
  const input: PolicyInput = {
    reality: "default",
    topic,
    producer: "p",
    headers: [],
    contentType: "application/json",
    payload: enc.encode(payload),
    entropySeed: 0n,
    wallMs: 0n,
    logical: 0,
  };
  return sb.evaluate(input);
}

function reason(v: PolicyVerdict): string {
  return v.kind === "allow" ? "" : v.reason;
}

Deno.test("energy_cap denies nvm.job.submit above 50 J by default", async () => {
  const sb = await sandbox("energy_cap");
  assert.deepEqual(run(sb, "nvm.job.submit", '{"joules": 50}'), { kind: "allow" });
  assert.deepEqual(run(sb, "nvm.job.submit", '{"job":"x","joules": 10.5}'), { kind: "allow" });
  const over = run(sb, "nvm.job.submit", '{"joules": 50.5}');
  assert.equal(over.kind, "deny");
  assert.equal(reason(over), "energy cap: requested 50.5 J exceeds the limit of 50.0 J");
  assert.equal(run(sb, "nvm.job.submit", '{"joules": "lots"}').kind, "deny");
  assert.equal(run(sb, "nvm.job.submit", "not json").kind, "deny");
  assert.equal(run(sb, "nvm.job.submit", "[1,2]").kind, "deny");
  assert.equal(run(sb, "nvm.job.submit", '{"other": 1}').kind, "deny"); // missing: fail-closed
  assert.deepEqual(run(sb, "nvm.job.status", '{"joules": 5000}'), { kind: "allow" });
});

Deno.test("energy_cap takes its limit, topic pattern and field path from config", async () => {
  const sb = await sandbox(
    "energy_cap",
    '{"max_joules": 100, "topic": "nvm.*.submit", "field": "energy.joules"}',
  );
  assert.deepEqual(run(sb, "nvm.a.submit", '{"energy": {"joules": 99}}'), { kind: "allow" });
  assert.equal(run(sb, "nvm.b.submit", '{"energy": {"joules": 101}}').kind, "deny");
  assert.deepEqual(run(sb, "nvm.job.submit.more", '{"energy": {"joules": 101}}'), {
    kind: "allow",
  });
  await assert.rejects(sandbox("energy_cap", '{"max_joules": "x"}'), ComponentRejectedError);
});

Deno.test("payload_size_cap denies payloads over the limit only", async () => {
  const sb = await sandbox("payload_size_cap", '{"max_bytes": 10}');
  assert.deepEqual(run(sb, "a.b", "0123456789"), { kind: "allow" });
  assert.equal(
    reason(run(sb, "a.b", "0123456789A")),
    "payload of 11 bytes exceeds the limit of 10 bytes",
  );
});

Deno.test("redact_secrets replaces keys, e-mails and Luhn-valid card numbers", async () => {
  const sb = await sandbox("redact_secrets");
  const text = JSON.stringify({
    note: "mail alice.smith+x@mail.example.org, card 4111 1111 1111 1111 or 5500-0000-0000-0004",
    aws: "AKIAIOSFODNN7EXAMPLE",
    gh: "ghp_0123456789abcdefghijABCDEFGHIJ0123456789",
    oa: "sk-proj0123456789abcdefghij",
    fake_card: "4111 1111 1111 1112",
    short: "1234 5678",
    at: "not@an-address",
  });
  const v = run(sb, "a.b", text);
  assert.equal(v.kind, "redact");
  if (v.kind !== "redact") return;
  assert.deepEqual(JSON.parse(dec.decode(v.payload)), {
    note: "mail [email], card [card] or [card]",
    aws: "[api-key]",
    gh: "[api-key]",
    oa: "[api-key]",
    fake_card: "4111 1111 1111 1112",
    short: "1234 5678",
    at: "not@an-address",
  });
  assert.equal(v.reason, "redacted 6 item(s): [email] [card] [api-key]");
  assert.deepEqual(run(sb, "a.b", '{"clean": "nothing to see, 42"}'), { kind: "allow" });
});

Deno.test("redact_secrets kinds can be switched off", async () => {
  const sb = await sandbox("redact_secrets", '{"emails": false}');
  const v = run(sb, "a.b", "bob@example.com 4111111111111111");
  assert.equal(v.kind, "redact");
  if (v.kind === "redact") assert.equal(dec.decode(v.payload), "bob@example.com [card]");
});

Deno.test("json_schema validates per topic pattern and names the first error", async () => {
  const schema = {
    type: "object",
    required: ["id", "tags"],
    additionalProperties: false,
    properties: {
      id: { type: "integer", minimum: 1 },
      name: { type: "string", minLength: 2, maxLength: 5 },
      kind: { enum: ["a", "b"] },
      tags: { type: "array", items: { type: "string" }, maxItems: 2 },
      score: { type: ["number", "null"], exclusiveMaximum: 1 },
    },
  };
  const sb = await sandbox("json_schema", JSON.stringify({ schemas: { "orders.>": schema } }));
  const ok = { id: 3, name: "héé", kind: "a", tags: ["x"], score: null };
  assert.deepEqual(run(sb, "orders.new", JSON.stringify(ok)), { kind: "allow" });
  const cases: [unknown, string][] = [
    [{ ...ok, id: 1.5 }, "schema: $.id: expected integer, got number"],
    [{ ...ok, id: 0 }, "schema: $.id: below the minimum 1.0"],
    [{ ...ok, name: "toolong" }, "schema: $.name: longer than 5.0"],
    [{ ...ok, kind: "c" }, "schema: $.kind: not one of the allowed values"],
    [{ ...ok, tags: ["x", 2] }, "schema: $.tags[1]: expected string, got number"],
    [{ ...ok, tags: ["x", "y", "z"] }, "schema: $.tags: more than 2.0 items"],
    [{ ...ok, score: 1 }, "schema: $.score: not below 1.0"],
    [{ ...ok, extra: true }, "schema: $: unexpected property extra"],
    [{ id: 3 }, "schema: $: missing required tags"],
    [[1], "schema: $: expected object, got array"],
  ];
  for (const [doc, want] of cases) {
    assert.equal(reason(run(sb, "orders.new", JSON.stringify(doc))), want);
  }
  assert.match(
    reason(run(sb, "orders.new", "{bad")),
    /^schema: payload is not JSON \(expected a member name at byte 1\)$/,
  );
  assert.deepEqual(run(sb, "other.topic", "{bad"), { kind: "allow" });
});

Deno.test("redact_secrets finds secrets at every offset around its 16-byte chunks", async () => {
  const sb = await sandbox("redact_secrets");
  const secrets: [string, string][] = [
    ["alice@example.org", "[email]"],
    ["4111 1111 1111 1111", "[card]"],
    ["AKIAIOSFODNN7EXAMPLE", "[api-key]"],
  ];
  for (const [secret, token] of secrets) {
    for (let offset = 0; offset < 40; offset++) {
      for (const tail of [0, 3, 17]) {
        const before = "ab cd ef gh ij kl mn op qr st uv wx yz ".repeat(2).slice(0, offset);
        const after = " zz".repeat(tail);
        const sep = offset > 0 ? " " : "";
        const v = run(sb, "a.b", `${before}${sep}${secret}${after}`);
        assert.equal(v.kind, "redact", `${secret} at ${offset}, tail ${tail}`);
        if (v.kind === "redact") {
          assert.equal(dec.decode(v.payload), `${before}${sep}${token}${after}`);
        }
      }
    }
  }
});

// The scan rules out 16 positions at a time with vector compares of a chunk and the chunk one
// byte later (key prefixes as byte pairs, card numbers by a run of 13 digits, spaces or
// dashes), and looks at the last positions in the last whole chunk: these put every kind of
// secret, and the near misses, across those edges.
Deno.test("redact_secrets: every kind at every offset across the chunk edges, and at the end", async () => {
  const sb = await sandbox("redact_secrets");
  const secrets: [string, string][] = [
    ["sk-proj0123456789abcdefghij", "[api-key]"],
    ["sk_live_0123456789abcdef", "[api-key]"],
    ["sk_test_0123456789abcdef", "[api-key]"],
    ["ghp_0123456789abcdefghijABCDEFGHIJ", "[api-key]"],
    ["github_pat_0123456789abcdefghijABCDEFGHIJ", "[api-key]"],
    ["AIzaSyA0123456789abcdefghijABCDEFGHI", "[api-key]"],
    ["xoxb-0123456789", "[api-key]"],
    ["5500-0000-0000-0004", "[card]"],
    ["4111111111111111", "[card]"],
    ["378282246310005", "[card]"],
    ["4 111111111111111", "[card]"], // a first group of one digit
    ["x@yy.io", "[email]"],
  ];
  const filler = "lorem ipsum dolor sit amet, 42.5 ok; ".repeat(3);
  for (const [secret, token] of secrets) {
    for (let offset = 0; offset < 48; offset++) {
      for (const tail of ["", ".", " z", " and more words after it, 7 of them."]) {
        const before = filler.slice(0, offset);
        // Not a space: the filler's digits would join a card number that follows it.
        const sep = offset > 0 ? "; " : "";
        const v = run(sb, "a.b", `${before}${sep}${secret}${tail}`);
        const where = `${secret} after ${offset} bytes, tail ${JSON.stringify(tail)}`;
        assert.equal(v.kind, "redact", where);
        if (v.kind === "redact") {
          assert.equal(dec.decode(v.payload), `${before}${sep}${token}${tail}`, where);
        }
      }
    }
  }
});

Deno.test("redact_secrets: near misses stay at every offset (prefix pairs, short runs, word parts)", async () => {
  const sb = await sandbox("redact_secrets");
  const misses = [
    "sk", // a key prefix's pair as the payload's last bytes
    "sk-short",
    "ghost ghp_short xoxb- AKIA123 AIzaShort",
    "xsk-proj0123456789abcdefghij", // inside a word: not a key
    "a4111111111111111", // inside a word: not a card
    "4111 1111 1111 1112", // Luhn-invalid
    "4111 1111 1111", // 12 digits
    "4111  1111 1111 1111", // two separators in a row
    "41.11 1111 1111 1111",
    "2026-12-07T21:30:00Z 1733600000000 x",
    "not@an-address @ a@b @.io",
  ];
  const filler = "lorem ipsum dolor sit amet, 42.5 ok; ".repeat(3);
  for (const miss of misses) {
    for (let offset = 0; offset < 48; offset++) {
      for (const tail of ["", " z", " and more words after it."]) {
        const text = `${filler.slice(0, offset)}${offset > 0 ? "; " : ""}${miss}${tail}`;
        assert.deepEqual(run(sb, "a.b", text), { kind: "allow" }, JSON.stringify(text));
      }
    }
  }
});

Deno.test("redact_secrets: payloads of 0 to 40 bytes, around the 16-byte chunk", async () => {
  const sb = await sandbox("redact_secrets");
  const clean = "sensor reading value ok temperature 42.5 lab north ";
  for (let n = 0; n <= 40; n++) {
    assert.deepEqual(run(sb, "a.b", clean.repeat(2).slice(0, n)), { kind: "allow" }, `${n} bytes`);
    // The same length ending in a secret, and made of one secret-looking run.
    for (const [secret, token] of [["AKIAIOSFODNN7EXAMPLE", "[api-key]"], ["b@cc.io", "[email]"]]) {
      if (secret.length > n) continue;
      const pad = n - secret.length;
      const before = pad > 0 ? clean.slice(0, pad - 1) + " " : "";
      const v = run(sb, "a.b", before + secret);
      assert.equal(v.kind, "redact", `${secret} ending ${n} bytes`);
      if (v.kind === "redact") assert.equal(dec.decode(v.payload), before + token);
    }
    const digits = "4111111111111111".padEnd(40, "1").slice(0, n);
    const v = run(sb, "a.b", digits);
    // Only 13 to 19 digits can be a card: "4111111111111111" (16) is the Luhn-valid one here.
    if (n === 16) assert.equal(v.kind === "redact" && dec.decode(v.payload), "[card]");
    else if (n < 13 || n > 19) assert.deepEqual(v, { kind: "allow" }, `${n} digits`);
  }
});

Deno.test("redact_secrets kinds can be switched off in long payloads too", async () => {
  const text = "lorem ipsum dolor sit amet, 42.5 ok; ".repeat(2) +
    "bob@example.com 4111111111111111 AKIAIOSFODNN7EXAMPLE and the rest of the text";
  const cases: [string, string][] = [
    ['{"emails": false}', "bob@example.com [card] [api-key]"],
    ['{"cards": false}', "[email] 4111111111111111 [api-key]"],
    ['{"keys": false}', "[email] [card] AKIAIOSFODNN7EXAMPLE"],
    ['{"emails": false, "cards": false, "keys": false}', ""],
  ];
  for (const [config, want] of cases) {
    const v = run(await sandbox("redact_secrets", config), "a.b", text);
    if (want === "") {
      assert.deepEqual(v, { kind: "allow" }, config);
      continue;
    }
    assert.equal(v.kind, "redact", config);
    if (v.kind === "redact") {
      assert.equal(
        dec.decode(v.payload),
        "lorem ipsum dolor sit amet, 42.5 ok; ".repeat(2) + want + " and the rest of the text",
        config,
      );
    }
  }
});
