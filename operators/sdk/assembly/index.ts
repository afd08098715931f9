// The ArqonBus operator SDK for AssemblyScript.
//
// An operator is one AssemblyScript file that exports
//   `handle(pulse: Pulse): Pulse[]`   (the pulses to publish, in order)
// and optionally
//   `init(config: string): string | null`      (an error message, or null when ok)
//   `onControl(params: Header[]): string | null`
// Import the SDK as `@arqon/operator` (the build maps it onto this folder). `deno task
// operator:build op.ts -o op.wasm` compiles it into a component of world
// `arqon:bus/operator`.
//
// Example: a running sum of the numbers published on its inputs, kept in durable state:
//
//   import { outputText, Pulse, stateGetString, stateSetString } from "@arqon/operator";
//
//   export function handle(pulse: Pulse): Pulse[] {
//     const before = stateGetString("sum");
//     const sum = (before === null ? 0 : parseFloat(before)) + parseFloat(pulse.text());
//     stateSetString("sum", sum.toString());
//     return [outputText("sums.total", '{"sum":' + sum.toString() + "}")];
//   }
//
// Spectral metadata (`pulse.spectral`, null when absent) is read on inputs and set on
// outputs with `outputText(...).withSpectral(coherence, criticality, eigenvalues)`.
//
// Only what goes through `stateSet` survives a call: memory allocated while handling a pulse
// is released after it, and the node may discard an instance at any time.
export { Header } from "@arqon/casil/types";
export { HlcTimestamp, log, LogLevel, logicalTime, randomU64 } from "@arqon/casil/host";
export { JsonKind, JsonParser, JsonValue, parseJsonString } from "@arqon/casil/json";
export { bytesToString, indexOf, stringToBytes, topicMatches } from "@arqon/casil/util";
export { output, outputText, Pulse, Spectral } from "./pulse";
export {
  stateDelete,
  stateGet,
  stateGetString,
  stateSet,
  stateSetString,
} from "./state";
export { config } from "./abi";
