import assert from "node:assert/strict";
import { newInboxTopic, PendingInboxes } from "./inbox.ts";

Deno.test("adopted inboxes (requests from other nodes) are bounded: past the cap the oldest go", () => {
  const inboxes = new PendingInboxes();
  const names = Array.from({ length: 250 }, () => newInboxTopic());
  for (const name of names) inboxes.adopt(name, 60_000, 100);
  // Never more than the cap held, and the newest are the ones kept.
  assert.ok(inboxes.size <= 101, `held ${inboxes.size}`);
  assert.equal(inboxes.responders(names[0]), undefined);
  assert.ok(inboxes.responders(names.at(-1)!));
  // Adopting one already known keeps its responders.
  const owner = { wake() {}, overflowed() {} };
  inboxes.adopt(names.at(-1)!, 60_000, 100).add(owner);
  assert.ok(inboxes.adopt(names.at(-1)!, 60_000, 100).has(owner));
});

Deno.test("adopted inboxes expire after their time; the node's own inboxes are untouched", () => {
  const inboxes = new PendingInboxes();
  const own = inboxes.open();
  const remote = newInboxTopic();
  inboxes.adopt(remote, -1); // already expired
  inboxes.adopt(newInboxTopic(), 60_000); // the next adoption sweeps the expired one
  assert.equal(inboxes.responders(remote), undefined);
  assert.ok(inboxes.responders(own), "the node's own request still waits");
});
