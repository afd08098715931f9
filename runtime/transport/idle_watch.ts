/**
 * One timer for every connection that shares an idle timeout, instead of one interval per
 * connection: a timer costs each idle connection memory (its object, its closure, the
 * runtime's entry) to do what one sweep over all of them does as well.
 * @module
 */

/** A connection checked for silence. */
export interface IdleWatched {
  /** Pings or closes the connection if it was silent too long (`idleMs`). */
  checkIdle(idleMs: number): void;
}

interface Group {
  readonly members: Set<IdleWatched>;
  readonly timer: ReturnType<typeof setInterval>;
}

const groups = new Map<number, Group>();

/** Checks `conn` every `idleMs / 2` (at least every 50 ms) until `unwatchIdle`. */
export function watchIdle(conn: IdleWatched, idleMs: number): void {
  let group = groups.get(idleMs);
  if (!group) {
    const members = new Set<IdleWatched>();
    const timer = setInterval(() => {
      // A member closed by its check leaves the set during the sweep: Set iteration allows it.
      for (const m of members) m.checkIdle(idleMs);
    }, Math.max(idleMs / 2, 50));
    group = { members, timer };
    groups.set(idleMs, group);
  }
  group.members.add(conn);
}

/** Stops checking `conn`; the timer stops with its group's last connection. */
export function unwatchIdle(conn: IdleWatched, idleMs: number): void {
  const group = groups.get(idleMs);
  if (!group || !group.members.delete(conn) || group.members.size > 0) return;
  clearInterval(group.timer);
  groups.delete(idleMs);
}
