import assert from "node:assert/strict";
import { Reality } from "./reality.ts";
import { Subscription, type SubscriptionOwner } from "./subscription.ts";

const owner: SubscriptionOwner = { wake() {}, overflowed() {} };

function member(id: number, pattern: string, queueGroup: string): Subscription {
  return new Subscription(
    {
      id,
      realityId: "default",
      pattern,
      queueGroup,
      overflow: "drop-oldest",
      maxMessages: 100,
      maxBytes: 1 << 20,
      maxInFlight: 0,
    },
    owner,
    () => {},
  );
}

Deno.test("queue group: round robin survives route rebuilds (each request's inbox) and spans topics", () => {
  const reality = new Reality("default");
  const a = member(1, "svc.>", "workers");
  const b = member(2, "svc.>", "workers");
  reality.add(a);
  reality.add(b);
  const picked: number[] = [];
  for (let i = 0; i < 6; i++) {
    // A request subscribes its inbox and unsubscribes it: the routes are rebuilt each time.
    const inbox = member(100 + i, `_inbox.${i}`, "");
    reality.add(inbox);
    const route = reality.route(i % 2 ? "svc.a" : `svc.topic${i}`);
    picked.push(reality.pick(route.groups[0], 10)!.spec.id);
    reality.remove(inbox);
  }
  assert.deepEqual(picked, [1, 2, 1, 2, 1, 2]);
});
