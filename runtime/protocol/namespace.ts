/**
 * `arqon.v1.*` names for the protocol types, mirroring the proto package, so code can
 * write `arqon.v1.IPulse`.
 * @module
 */
export * as v1 from "./types.ts";
