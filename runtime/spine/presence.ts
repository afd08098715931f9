/**
 * Presence (the PRD's Brain): who is in each reality right now. Clients are present in
 * the realities their card lists (else `default`) from their hello on, and in every
 * reality they publish or subscribe in; operators in their manifest's reality while
 * registered. Each join and leave is announced as a pulse on `sys.presence.join` /
 * `sys.presence.leave` of that reality, so anyone subscribes to presence like to any
 * topic. `GET /v1/realities/{r}/presence` lists it. Bounded per reality: past
 * `presenceMaxMembers` a newcomer is not listed (counted, reported as `omitted`).
 * @module
 */
import type { Flag } from "../config/mod.ts";

/** What a member is. */
export type PresenceKind = "client" | "agent" | "operator";

/** One member as `GET /v1/realities/{r}/presence` shows it and the events carry it. */
export interface PresenceMember {
  /** The producer id: hello's `client_name` (else the session id), or the operator's name. */
  readonly name: string;
  /** `agent`: a client with a card; `client`: one without; `operator`. */
  readonly kind: PresenceKind;
  /** Its card's capabilities (a client without a card: its hello's). */
  readonly capabilities: readonly string[];
  /** When it joined this reality, ms since the epoch. */
  readonly since_ms: number;
}

/** Who joins: a member without its join time. */
export type PresenceIdentity = Omit<PresenceMember, "since_ms">;

/** A join or leave event, as the `sys.presence.*` pulse's JSON payload carries it. */
export interface PresenceEvent extends PresenceMember {
  /** `join` or `leave`. */
  readonly event: "join" | "leave";
  /** The reality it concerns. */
  readonly reality: string;
}

/** Publishes an event (the Spine wires it to a `sys.presence.<event>` pulse). */
export type PresenceEmit = (event: PresenceEvent) => void;

/** The topic a presence event goes to. */
export function presenceTopic(event: "join" | "leave"): string {
  return `sys.presence.${event}`;
}

/** Presence options (see {@linkcode PRESENCE_FLAGS}). */
export interface PresenceOptions {
  /**
   * Members listed per reality; a newcomer past it is not listed and not announced
   * (counted in `arqon_limit_hits_total{limit="presence_max_members"}`).
   * @default {10000}
   */
  presenceMaxMembers: number;
}

/** Defaults of {@linkcode PresenceOptions}. */
export const PRESENCE_DEFAULTS: Readonly<PresenceOptions> = Object.freeze({
  presenceMaxMembers: 10_000,
});

/** Presence options as flags. */
export const PRESENCE_FLAGS: readonly Flag<keyof PresenceOptions>[] = Object.freeze([{
  key: "presenceMaxMembers",
  flag: "presence-max-members",
  kind: "int",
  help: "members listed per reality in presence; more are not listed (counted)",
}]);

/** Who is present where. */
export class PresenceBoard {
  readonly #byReality = new Map<string, Map<string, PresenceMember>>();
  readonly #byKey = new Map<string, Set<string>>();
  readonly #omitted = new Map<string, number>();
  #max: number;
  /** Where events go; unset: nowhere (a board in a unit test). */
  emit: PresenceEmit | undefined;
  /** Called once for each newcomer refused by the bound. */
  onLimit: (() => void) | undefined;

  /** A board listing at most `maxPerReality` members per reality. */
  constructor(maxPerReality: number = PRESENCE_DEFAULTS.presenceMaxMembers) {
    this.#max = maxPerReality > 0 ? maxPerReality : Infinity;
  }

  /** Changes the bound (the node's flag); members already listed stay. */
  setLimit(maxPerReality: number): void {
    this.#max = maxPerReality > 0 ? maxPerReality : Infinity;
  }

  /**
   * `key` (a session id, `operator:<name>`) is present in `reality` as `who`. Already
   * present: nothing happens (the hot path calls this on every publish). False when the
   * reality is full.
   */
  join(key: string, reality: string, who: PresenceIdentity): boolean {
    let members = this.#byReality.get(reality);
    if (members?.has(key)) return true;
    members ??= new Map();
    if (members.size >= this.#max) {
      this.#omitted.set(reality, (this.#omitted.get(reality) ?? 0) + 1);
      this.onLimit?.();
      return false;
    }
    if (members.size === 0) this.#byReality.set(reality, members);
    const member: PresenceMember = {
      name: who.name,
      kind: who.kind,
      capabilities: [...who.capabilities],
      since_ms: Date.now(),
    };
    members.set(key, member);
    let realities = this.#byKey.get(key);
    if (!realities) this.#byKey.set(key, realities = new Set());
    realities.add(reality);
    this.emit?.({ event: "join", reality, ...member });
    return true;
  }

  /** Whether `key` is listed in `reality`. */
  has(key: string, reality: string): boolean {
    return this.#byReality.get(reality)?.has(key) ?? false;
  }

  /** `key` left every reality it was in (its connection ended, the operator was removed). */
  leave(key: string): void {
    const realities = this.#byKey.get(key);
    if (!realities) return;
    this.#byKey.delete(key);
    for (const reality of realities) {
      const members = this.#byReality.get(reality);
      const member = members?.get(key);
      if (!members || !member) continue;
      members.delete(key);
      if (members.size === 0) this.#byReality.delete(reality);
      this.emit?.({ event: "leave", reality, ...member });
    }
  }

  /** Whether a member named `name` is present in `reality`. */
  hasName(reality: string, name: string): boolean {
    for (const m of this.#byReality.get(reality)?.values() ?? []) if (m.name === name) return true;
    return false;
  }

  /**
   * The members of `reality`, oldest first, and how many newcomers the bound left out
   * since the node started.
   */
  list(reality: string): { members: PresenceMember[]; omitted: number } {
    const members = [...this.#byReality.get(reality)?.values() ?? []]
      .sort((a, b) => a.since_ms - b.since_ms || (a.name < b.name ? -1 : 1));
    return { members, omitted: this.#omitted.get(reality) ?? 0 };
  }
}
