/**
 * Stored pulse bytes rendered in the canonical proto3 JSON mapping, for the history
 * answers of JSON sessions and the NDJSON history route.
 * @module
 */
import { addPayloadView, PulseType } from "../protocol/mod.ts";

const JSON_OPTIONS = { longs: String, enums: String, json: true } as const;
type Base64Bytes = Uint8Array & { toBase64(): string };

/**
 * Renders stored pulse bytes in the canonical proto3 JSON mapping, like the protocol's
 * `pulseToJsonObject` but straight from the decoded message and with the native base64
 * encoder for the payload (about five times faster for 1 KB payloads).
 */
export function storedPulseJson(bytes: Uint8Array): Record<string, unknown> {
  const message = PulseType.decode(bytes) as unknown as { payload?: Base64Bytes };
  const json = PulseType.toObject(message as never, JSON_OPTIONS) as Record<string, unknown>;
  if (json.payload instanceof Uint8Array) json.payload = (json.payload as Base64Bytes).toBase64();
  return addPayloadView(json);
}
