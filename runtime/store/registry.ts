/**
 * The realities registry: the persisted list of realities with their configuration and
 * retention rules, loaded at open and kept in memory (`RealityState`), so the append
 * path finds a pulse's reality and rule without a query.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { RealityConfig, RealityInfo } from "../spine/mod.ts";
import { describe, StorageError } from "./errors.ts";
import {
  normalizeRealityConfig,
  RealityState,
  RuleState,
  validateRealityName,
} from "./realities.ts";
import { addDeleted, type Retention } from "./retention.ts";
import { Rollback, rollbackTransaction } from "./rollback.ts";

/** Realities by name, persisted in the `realities` and `rules` tables. */
export class RealityRegistry {
  readonly #db: DatabaseSync;
  readonly #retention: Retention;
  readonly #defaultConfig: RealityConfig;
  readonly #now: () => number;
  readonly #byName = new Map<string, RealityState>();
  #defaultRules: RuleState[] | undefined;
  readonly #stmt: Record<
    | "insertReality"
    | "insertRule"
    | "updateRulePosition"
    | "deleteRule"
    | "deleteRuleChunks"
    | "updateRealityConfig"
    | "deleteReality"
    | "deleteRealityRules"
    | "deleteRealityChunks",
    StatementSync
  >;

  /**
   * Loads the registry of `db`. Realities created implicitly by a publish get
   * `defaultConfig`; `retention` trims rules whose limits a new configuration lowers.
   */
  constructor(
    db: DatabaseSync,
    defaultConfig: RealityConfig,
    retention: Retention,
    now: () => number,
  ) {
    this.#db = db;
    this.#defaultConfig = defaultConfig;
    this.#retention = retention;
    this.#now = now;
    this.#stmt = {
      insertReality: db.prepare(
        "INSERT INTO realities (name, config, created_ms) VALUES (?,?,?) RETURNING id",
      ),
      insertRule: db.prepare(
        "INSERT INTO rules (reality, position, pattern) VALUES (?,?,?) RETURNING id",
      ),
      updateRulePosition: db.prepare("UPDATE rules SET position=? WHERE id=?"),
      deleteRule: db.prepare("DELETE FROM rules WHERE id=?"),
      deleteRuleChunks: db.prepare("DELETE FROM chunks WHERE rule=?"),
      updateRealityConfig: db.prepare("UPDATE realities SET config=? WHERE id=?"),
      deleteReality: db.prepare("DELETE FROM realities WHERE id=?"),
      deleteRealityRules: db.prepare("DELETE FROM rules WHERE reality=?"),
      deleteRealityChunks: db.prepare("DELETE FROM chunks WHERE reality=?"),
    };
    this.#load();
  }

  #load(): void {
    const realities = this.#db.prepare(
      "SELECT id, name, config, created_ms, last_seq, last_wall FROM realities",
    ).all() as {
      id: number;
      name: string;
      config: string;
      created_ms: number;
      last_seq: number;
      last_wall: number;
    }[];
    const rules = this.#db.prepare(
      "SELECT id, reality, pattern, stored_pulses, stored_bytes, watermark FROM rules ORDER BY reality, position",
    ).all() as {
      id: number;
      reality: number;
      pattern: string;
      stored_pulses: number;
      stored_bytes: number;
      watermark: number;
    }[];
    for (const row of realities) {
      const config = normalizeRealityConfig(JSON.parse(row.config));
      const state = new RealityState(
        row.id,
        row.name,
        config,
        row.created_ms,
        row.last_seq,
        row.last_wall,
      );
      state.setRules(
        rules.filter((r) => r.reality === row.id).map((r) =>
          new RuleState(
            r.id,
            config.retention.find((c) => c.pattern === r.pattern) ?? { pattern: r.pattern },
            r.stored_pulses,
            r.stored_bytes,
            r.watermark,
          )
        ),
      );
      this.#byName.set(row.name, state);
    }
  }

  /** The state of a reality, or undefined. */
  get(name: string): RealityState | undefined {
    return this.#byName.get(name);
  }

  /** False once `reality` was deleted (its pending pulses are dropped with it). */
  isCurrent(reality: RealityState): boolean {
    return this.#byName.get(reality.name) === reality;
  }

  /** How many realities exist. */
  get size(): number {
    return this.#byName.size;
  }

  /** Every reality, in no particular order. */
  states(): IterableIterator<RealityState> {
    return this.#byName.values();
  }

  /** The reality a pulse is appended to, created with the default configuration if new. */
  forAppend(name: string): RealityState {
    const existing = this.#byName.get(name);
    if (existing) return existing;
    return this.#insert(name, this.#defaultConfig);
  }

  /** True when a pulse on `topic` in `reality` would be stored (a retention rule matches). */
  shouldStore(reality: string, topic: string): boolean {
    const state = this.#byName.get(reality || "default");
    if (state) return state.ruleFor(topic) !== null;
    this.#defaultRules ??= this.#defaultConfig.retention.map((r, i) => new RuleState(-1 - i, r));
    return this.#defaultRules.some((r) => r.matches(topic));
  }

  #insert(name: string, config: RealityConfig): RealityState {
    validateRealityName(name);
    const created = this.#now();
    this.#db.exec("BEGIN");
    try {
      const { id } = this.#stmt.insertReality.get(name, JSON.stringify(config), created) as {
        id: number;
      };
      const state = new RealityState(id, name, config, created, 0, 0);
      state.setRules(
        config.retention.map((rule, position) => {
          const row = this.#stmt.insertRule.get(id, position, rule.pattern) as { id: number };
          return new RuleState(row.id, rule);
        }),
      );
      this.#db.exec("COMMIT");
      this.#byName.set(name, state);
      return state;
    } catch (error) {
      rollbackTransaction(this.#db);
      throw new StorageError(`cannot create reality ${name}: ${describe(error)}`, undefined, {
        cause: error,
      });
    }
  }

  /** Creates a reality; fails with `ERROR_CODE_INVALID_ARGUMENT` if it exists. */
  create(name: string, config: unknown): RealityInfo {
    validateRealityName(name);
    if (this.#byName.has(name)) {
      throw new StorageError(`reality ${name} already exists`, "INVALID_ARGUMENT");
    }
    return this.#insert(name, normalizeRealityConfig(config)).info();
  }

  /** All realities, by name. */
  list(): RealityInfo[] {
    return [...this.#byName.values()].map((r) => r.info()).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
  }

  /**
   * Replaces the configuration of `reality` (the caller validated `next` and committed
   * pending appends). Rules whose pattern is kept keep their stored pulses (new limits
   * apply at once); pulses of removed rules are deleted.
   */
  replace(reality: RealityState, next: RealityConfig): RealityInfo {
    const rollback = new Rollback();
    const previous = {
      rules: reality.rules,
      config: reality.config,
      limits: new Map(reality.rules.map((r) => [r, r.rule])),
    };
    let deleted = [0, 0];
    try {
      this.#db.exec("BEGIN");
      const old = new Map(reality.rules.map((r) => [r.rule.pattern, r]));
      const rules = next.retention.map((rule, position) => {
        const kept = old.get(rule.pattern);
        if (!kept) {
          const row = this.#stmt.insertRule.get(reality.id, position, rule.pattern) as {
            id: number;
          };
          return new RuleState(row.id, rule);
        }
        old.delete(rule.pattern);
        rollback.rule(kept);
        kept.rule = rule;
        this.#stmt.updateRulePosition.run(position, kept.id);
        return kept;
      });
      for (const removed of old.values()) {
        this.#stmt.deleteRuleChunks.run(removed.id);
        this.#stmt.deleteRule.run(removed.id);
        deleted = addDeleted(deleted, [removed.storedPulses, removed.storedBytes]);
      }
      this.#stmt.updateRealityConfig.run(JSON.stringify(next), reality.id);
      reality.setRules(rules);
      reality.config = next;
      const now = this.#now();
      for (const rule of rules) {
        deleted = addDeleted(deleted, this.#retention.trim(rule, now, false, rollback));
        this.#retention.saveRule(rule);
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      rollback.undo(this.#db);
      reality.setRules(previous.rules);
      reality.config = previous.config;
      for (const [rule, limits] of previous.limits) rule.rule = limits;
      throw new StorageError(
        `cannot update reality ${reality.name}: ${describe(error)}`,
        undefined,
        {
          cause: error,
        },
      );
    }
    this.#retention.recordDeleted(deleted);
    return reality.info();
  }

  /** Deletes `reality` with all its pulses (the caller committed pending appends). */
  delete(reality: RealityState): void {
    const name = reality.name;
    try {
      this.#db.exec("BEGIN");
      this.#stmt.deleteRealityChunks.run(reality.id);
      this.#stmt.deleteRealityRules.run(reality.id);
      this.#stmt.deleteReality.run(reality.id);
      this.#db.exec("COMMIT");
    } catch (error) {
      rollbackTransaction(this.#db);
      throw new StorageError(`cannot delete reality ${name}: ${describe(error)}`, undefined, {
        cause: error,
      });
    }
    this.#byName.delete(name);
  }
}
