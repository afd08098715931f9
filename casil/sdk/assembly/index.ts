// The ArqonBus CASIL policy SDK for AssemblyScript.
//
// A policy is one AssemblyScript file that exports
//   `evaluate(ctx: Context, payload: Uint8Array): Verdict`
// and optionally
//   `configure(config: string): string | null` (return an error message, or null when ok).
// `deno task policy:build path/to/policy.ts` compiles it into a component of world
// `arqon:bus/policy`.
//
// Example: a policy that keeps a `secret` header off topics under `public.`, and limits
// payloads to a configurable size (config: `{"max_bytes": 1024}`). Import the SDK as
// `@arqon/casil` (the build maps it onto this folder, wherever the policy file lives):
//
//   import { allow, Context, deny, JsonKind, parseJsonString, Verdict } from "@arqon/casil";
//
//   let maxBytes: i32 = 65536;
//
//   export function configure(config: string): string | null {
//     const c = parseJsonString(config);
//     if (c === null || c.kind != JsonKind.Object) return "config must be a JSON object";
//     const m = c.get("max_bytes");
//     if (m !== null) {
//       if (m.kind != JsonKind.Number || m.num < 0 || m.num > 2147483647) {
//         return "max_bytes must be a number between 0 and 2^31-1";
//       }
//       maxBytes = <i32>m.num;
//     }
//     return null;
//   }
//
//   export function evaluate(ctx: Context, payload: Uint8Array): Verdict {
//     if (ctx.topic.startsWith("public.") && ctx.header("secret") !== null) {
//       return deny("no secret header on public topics");
//     }
//     if (payload.length > maxBytes) return deny("payload over " + maxBytes.toString() + " bytes");
//     return allow();
//   }
//
// Build and install it on a running node (bound to topics `public.>`):
//
//   deno task policy:build guard.ts -o guard.wasm
//   curl -X PUT --data-binary @guard.wasm \
//     'http://127.0.0.1:7420/v1/policies/guard?topic=public.>&config=%7B%22max_bytes%22%3A1024%7D'
export { Context, Header, Verdict, allow, deny, redact } from "./types";
export { log, LogLevel, randomU64, logicalTime, HlcTimestamp } from "./host";
export { JsonKind, JsonParser, JsonValue, jsonObjectError, parseJsonString } from "./json";
export { bytesToString, indexOf, stringToBytes, topicMatches } from "./util";
