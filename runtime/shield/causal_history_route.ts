/**
 * `GET /v1/history?realities=a,b&order=causal`: the stored pulses of several realities
 * merged in causal order (docs/time.md "Vector clocks"), as NDJSON in the canonical JSON
 * mapping. The order is a function of the pulses read, so every reader of the same query
 * over the same history gets the same lines in the same order.
 * @module
 */
import { Hono } from "hono";
import { BusError, decodePulse, realityError } from "../protocol/mod.ts";
import type { DurableLog, StoredPulse } from "../spine/mod.ts";
import { type CausalItem, causalMerge } from "../time/mod.ts";
import { historyQueryFromUrl } from "./store_routes.ts";
import { storedPulseJson } from "./stored_json.ts";

/**
 * Realities one merged read names at most.
 * @default {16}
 */
export const CAUSAL_HISTORY_MAX_REALITIES = 16;
/**
 * Pulses one merged read returns at most (and its default `limit`): they are merged in
 * memory.
 * @default {10000}
 */
export const CAUSAL_HISTORY_MAX_PULSES = 10_000;

interface Merged extends CausalItem {
  readonly stored: StoredPulse;
}

/** Who may read a reality's history (the connection's grants); throws FORBIDDEN. */
export type HistoryReadCheck = (reality: string, pattern: string, req: Request) => void;

/** The route, relative to `/v1/history`. */
export function causalHistoryRoutes(store: DurableLog, canRead?: HistoryReadCheck): Hono {
  const app = new Hono();
  app.get("/", async (c) => {
    const url = new URL(c.req.url);
    const order = url.searchParams.get("order") ?? "causal";
    if (order !== "causal") {
      throw new BusError("INVALID_ARGUMENT", `order must be "causal", not "${order}"`);
    }
    const realities = realitiesParam(url.searchParams.get("realities"));
    const base = historyQueryFromUrl("", url);
    if (base.limit !== undefined && base.limit > CAUSAL_HISTORY_MAX_PULSES) {
      throw new BusError("INVALID_ARGUMENT", `limit is at most ${CAUSAL_HISTORY_MAX_PULSES}`);
    }
    const limit = base.limit || CAUSAL_HISTORY_MAX_PULSES;
    const lists: Merged[][] = [];
    for (const reality of realities) {
      if (store.getReality(reality) === undefined && !store.hasReality?.(reality)) {
        throw new BusError("NOT_FOUND", `no reality ${reality}`);
      }
      canRead?.(reality, base.pattern ?? ">", c.req.raw);
      const list: Merged[] = [];
      // Each reality's first `limit` pulses of the range: the merge's output is cut to
      // `limit` too, and no pulse past a reality's cut can come before one inside it.
      for await (const page of store.history({ ...base, reality, limit })) {
        for (const stored of page) {
          const clock = decodePulse(stored.bytes).vclock ?? {};
          list.push({ reality, sequence: stored.sequence, clock, stored });
        }
      }
      lists.push(list);
    }
    const merged = causalMerge(lists).slice(0, limit);
    let text = "";
    for (const m of merged) text += JSON.stringify(storedPulseJson(m.stored.bytes)) + "\n";
    return new Response(text, { headers: { "content-type": "application/x-ndjson" } });
  });
  return app;
}

/** `realities=a,b`: 1 to 16 distinct reality ids (INVALID_ARGUMENT otherwise). */
function realitiesParam(raw: string | null): string[] {
  if (!raw) throw new BusError("INVALID_ARGUMENT", "realities is required (realities=a,b)");
  const names = raw.split(",");
  if (names.length > CAUSAL_HISTORY_MAX_REALITIES) {
    throw new BusError(
      "INVALID_ARGUMENT",
      `at most ${CAUSAL_HISTORY_MAX_REALITIES} realities in one merged read`,
    );
  }
  for (const name of names) {
    const err = realityError(name);
    if (err) throw new BusError("INVALID_ARGUMENT", err);
  }
  if (new Set(names).size !== names.length) {
    throw new BusError("INVALID_ARGUMENT", "a reality is named twice");
  }
  return names;
}
