// The ArqonBus CASIL policy SDK for AssemblyScript.
//
// A policy is one AssemblyScript file that exports
//   `evaluate(ctx: Context, payload: Uint8Array): Verdict`
// and optionally
//   `configure(config: string): string | null` (return an error message, or null when ok).
// `deno task policy:build path/to/policy.ts` compiles it into a component of world
// `arqon:bus/policy`.
export { Context, Header, Verdict, allow, deny, redact } from "./types";
export { log, LogLevel, randomU64, logicalTime, HlcTimestamp } from "./host";
export { JsonKind, JsonParser, JsonValue, jsonObjectError, parseJsonString } from "./json";
export { bytesToString, indexOf, stringToBytes, topicMatches } from "./util";
