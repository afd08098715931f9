/**
 * "JSON stays JSON": a pulse rendered in the JSON mapping (SSE, history NDJSON, the
 * `arqon.v1.json` WebSocket subprotocol) keeps its bytes as base64 `payload`, and beside
 * them a readable view chosen by its content type: `data`, the payload as a JSON value,
 * when the type is `application/json` or `…+json` and the bytes parse; `text`, the
 * payload as a string, when the type is `text/…` and the bytes are UTF-8. Other types,
 * and payloads that do not parse, carry `payload` alone (the bytes stay authoritative).
 * @module
 */

type Base64Codec = { fromBase64(text: string): Uint8Array };
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The view a content type gets: `data` (JSON), `text`, or none. */
export function payloadViewOf(contentType: string | undefined): "data" | "text" | undefined {
  if (!contentType) return undefined;
  const essence = contentType.split(";")[0].trim().toLowerCase();
  if (essence === "application/json" || /^[a-z0-9.+-]+\/[a-z0-9.+-]*\+json$/.test(essence)) {
    return "data";
  }
  if (essence.startsWith("text/")) return "text";
  return undefined;
}

/**
 * Adds `data` or `text` to a pulse in the JSON mapping (in place; returns it), from its
 * `contentType` and base64 `payload`.
 *
 * @example
 * ```ts
 * import { addPayloadView } from "./payload_view.ts";
 *
 * const pulse = addPayloadView({ contentType: "application/json", payload: btoa('{"a":1}') });
 * pulse.data; // { a: 1 }
 * ```
 */
export function addPayloadView(pulse: Record<string, unknown>): Record<string, unknown> {
  const view = payloadViewOf(pulse.contentType as string | undefined);
  if (!view || typeof pulse.payload !== "string") return pulse;
  let text: string;
  try {
    text = STRICT_UTF8.decode((Uint8Array as unknown as Base64Codec).fromBase64(pulse.payload));
  } catch {
    return pulse; // not UTF-8: the bytes alone say what the producer sent
  }
  if (view === "text") {
    pulse.text = text;
    return pulse;
  }
  try {
    pulse.data = JSON.parse(text);
  } catch {
    // Declared JSON but is not: no view, rather than a guess.
  }
  return pulse;
}

/** Adds the views to every pulse a frame in the JSON mapping carries (batches included). */
export function addFramePayloadViews(frame: Record<string, unknown>): Record<string, unknown> {
  for (const [kind, body] of Object.entries(frame)) {
    if (body === null || typeof body !== "object") continue;
    const b = body as Record<string, unknown>;
    if (kind === "batch" && Array.isArray(b.frames)) {
      for (const f of b.frames) addFramePayloadViews(f as Record<string, unknown>);
      continue;
    }
    if (b.pulse && typeof b.pulse === "object") addPayloadView(b.pulse as Record<string, unknown>);
    if (Array.isArray(b.pulses)) { for (const p of b.pulses) addPayloadView(p); }
  }
  return frame;
}

type Base64Bytes = Uint8Array & { toBase64(): string };
const UTF8 = new TextEncoder();

/**
 * The reverse, for pulses a client sends in the JSON mapping: a pulse may give its
 * payload as `data` (any JSON value; content type `application/json` unless named) or
 * `text` (content type `text/plain; charset=utf-8` unless named) instead of base64
 * `payload`; a pulse echoed back with `payload` and its views keeps `payload` (the views
 * are dropped). Returns a pulse object the strict mapping reads (a copy when changed).
 */
export function foldPayloadView(pulse: Record<string, unknown>): Record<string, unknown> {
  if (!("data" in pulse) && !("text" in pulse)) return pulse;
  const { data, text, ...rest } = pulse;
  if (rest.payload !== undefined && rest.payload !== null) return rest;
  if (data !== undefined) {
    rest.payload = (UTF8.encode(JSON.stringify(data)) as Base64Bytes).toBase64();
    rest.contentType ??= "application/json";
  } else if (typeof text === "string") {
    rest.payload = (UTF8.encode(text) as Base64Bytes).toBase64();
    rest.contentType ??= "text/plain; charset=utf-8";
  } else if (text !== undefined) {
    return pulse; // a non-string `text`: left for the mapping to refuse by name
  }
  return rest;
}

/** Folds the views of every pulse an inbound frame object carries (batches included). */
export function foldFramePayloadViews(frame: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...frame };
  for (const [kind, body] of Object.entries(frame)) {
    if (body === null || typeof body !== "object" || Array.isArray(body)) continue;
    const b = { ...(body as Record<string, unknown>) };
    if (kind === "batch" && Array.isArray(b.frames)) {
      b.frames = b.frames.map((f) =>
        f !== null && typeof f === "object" && !Array.isArray(f) ? foldFramePayloadViews(f) : f
      );
    }
    if (b.pulse && typeof b.pulse === "object" && !Array.isArray(b.pulse)) {
      b.pulse = foldPayloadView(b.pulse as Record<string, unknown>);
    }
    if (Array.isArray(b.pulses)) {
      b.pulses = b.pulses.map((p) =>
        p !== null && typeof p === "object" && !Array.isArray(p) ? foldPayloadView(p) : p
      );
    }
    out[kind] = b;
  }
  return out;
}
