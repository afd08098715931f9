/**
 * Routing an accepted pulse to a reality's subscriptions: every direct subscriber, one
 * member per queue group, spectral filters where the route has any, and the responders a
 * request reached recorded for its inbox.
 * @module
 */
import type { ISpectral } from "../protocol/mod.ts";
import type { PendingInboxes } from "./inbox.ts";
import type { Reality } from "./reality.ts";
import type { StampedPulse } from "./stamped.ts";
import type { Subscription } from "./subscription.ts";

/**
 * Offers `stamped` to the reality's subscriptions of its topic; queue groups too unless
 * `groups` is false (a cluster's fabric hands those out across nodes).
 */
export function routePulse(
  reality: Reality,
  stamped: StampedPulse,
  inboxes: PendingInboxes,
  groups = true,
): void {
  const route = reality.route(stamped.pulse.topic!);
  // A request: whoever it reaches may answer on its inbox (and nobody else).
  const replyTo = stamped.pulse.replyTo;
  const responders = replyTo ? inboxes.responders(replyTo) : undefined;
  // Spectral filters are looked at only on routes that have one.
  const accepts = route.filtered ? spectralAcceptor(stamped.pulse.spectral) : undefined;
  for (const sub of route.direct) {
    if (accepts && !accepts(sub)) continue;
    responders?.add(sub.owner);
    sub.offer(stamped);
  }
  if (!groups) return;
  for (const members of route.groups) {
    const member = reality.pick(members, stamped.size, accepts);
    if (!member) continue;
    responders?.add(member.owner);
    member.offer(stamped);
  }
}

/**
 * The member of queue group `group` in this reality that takes `stamped` (round robin,
 * within its queue bound and spectral filter), or undefined when none does. The caller
 * offers it the pulse, after recording it as a responder.
 */
export function pickGroupMember(
  reality: Reality,
  stamped: StampedPulse,
  group: string,
): Subscription | undefined {
  const pulse = stamped.pulse;
  const route = reality.route(pulse.topic!);
  const members = route.groups.find((m) => m[0]?.spec.queueGroup === group);
  if (!members) return undefined;
  const accepts = route.filtered ? spectralAcceptor(pulse.spectral) : undefined;
  return reality.pick(members, stamped.size, accepts);
}

/** Whether a subscription takes a pulse with `spectral` (subscriptions without a filter do). */
function spectralAcceptor(
  spectral: ISpectral | null | undefined,
): (sub: Subscription) => boolean {
  return (sub) => sub.spec.spectralFilter === undefined || sub.spec.spectralFilter.test(spectral);
}
