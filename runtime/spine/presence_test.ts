import assert from "node:assert/strict";
import type { IPulse } from "../protocol/mod.ts";
import { AgentDirectory } from "./agents.ts";
import { compileCard } from "./card.ts";
import { PresenceBoard, type PresenceEvent } from "./presence.ts";
import { PRESENCE_PRODUCER, wirePresence } from "./presence_events.ts";

Deno.test("a member joins each reality once and leaves them all; events follow", () => {
  const board = new PresenceBoard(10);
  const seen: PresenceEvent[] = [];
  board.emit = (e) => seen.push(e);
  const who = { name: "alice", kind: "agent" as const, capabilities: ["chat"] };
  assert.equal(board.join("s1", "default", who), true);
  assert.equal(board.join("s1", "default", who), true);
  board.join("s1", "lab", who);
  assert.equal(board.hasName("lab", "alice"), true);
  board.leave("s1");
  board.leave("s1");
  assert.deepEqual(seen.map((e) => `${e.event}:${e.reality}`), [
    "join:default",
    "join:lab",
    "leave:default",
    "leave:lab",
  ]);
  assert.deepEqual(board.list("default"), { members: [], omitted: 0 });
});

Deno.test("past the bound a newcomer is counted, not listed, not announced; a leave makes room", () => {
  const board = new PresenceBoard(2);
  let limits = 0;
  const seen: PresenceEvent[] = [];
  board.emit = (e) => seen.push(e);
  board.onLimit = () => limits++;
  const who = (name: string) => ({ name, kind: "client" as const, capabilities: [] });
  board.join("a", "r", who("a"));
  board.join("b", "r", who("b"));
  assert.equal(board.join("c", "r", who("c")), false);
  assert.equal(limits, 1);
  assert.equal(seen.length, 2);
  assert.deepEqual(board.list("r").members.map((m) => m.name), ["a", "b"]);
  assert.equal(board.list("r").omitted, 1);
  board.leave("c"); // never listed: nothing to announce
  assert.equal(seen.length, 2);
  board.leave("a");
  assert.equal(board.join("c", "r", who("c")), true);
  assert.deepEqual(board.list("r").members.map((m) => m.name).sort(), ["b", "c"]);
});

Deno.test("operators join their reality's presence when registered and leave when removed, announced as node pulses", () => {
  const agents = new AgentDirectory();
  const published: { topic: string; reality: string; producer: string; body: PresenceEvent }[] = [];
  const board = wirePresence(
    {
      agents,
      publish: (pulse: IPulse, producer: string) => {
        published.push({
          topic: pulse.topic!,
          reality: pulse.realityId!,
          producer,
          body: JSON.parse(new TextDecoder().decode(pulse.payload!)),
        });
      },
    },
    10,
    { limitHits: { labels: () => ({ inc: () => {} }) } } as never,
  );
  agents.registerOperator(
    "counter",
    "lab",
    compileCard({ capabilities: ["count"] }, "operator"),
    () => "running",
  );
  assert.deepEqual(board.list("lab").members.map((m) => [m.name, m.kind, m.capabilities]), [
    ["counter", "operator", ["count"]],
  ]);
  // A new version of the same operator keeps its place: no second join.
  agents.registerOperator("counter", "lab", undefined, () => "running");
  agents.unregisterOperator("counter");
  assert.deepEqual(board.list("lab").members, []);
  assert.deepEqual(published.map((p) => [p.topic, p.reality, p.producer, p.body.name]), [
    ["sys.presence.join", "lab", PRESENCE_PRODUCER, "counter"],
    ["sys.presence.leave", "lab", PRESENCE_PRODUCER, "counter"],
  ]);
});
