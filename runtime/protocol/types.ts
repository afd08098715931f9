/**
 * TypeScript shapes of the messages in `arqon.proto` (package `arqon.v1`), as protobufjs
 * decodes and encodes them: camelCase fields, uint64 as `number`, bytes as `Uint8Array`,
 * enums as numbers. Every field is optional on input; decoded messages carry defaults.
 *
 * Nothing here is written by hand beside the schema: the interfaces are generated from
 * `arqon.proto` at build time by protobufjs's CLI (`scripts/build_proto.ts` writes
 * `gen/types.ts`), and the enum values are read from the schema that the runtime codec
 * loads, so nothing at run time depends on the generated files (only type-checking does).
 * @module
 */
import type {
  AckModeValues,
  DeliveryOrderValues,
  ErrorCodeValues,
  OverflowPolicyValues,
  StartModeValues,
} from "./gen/types.ts";
import { schemaRoot } from "./schema.ts";

export type {
  AckModeValues,
  DeliveryOrderValues,
  ErrorCodeValues,
  IAck,
  IAnycastMatch,
  IAnycastSubscribe,
  IAnycastTarget,
  IBatch,
  IChallenge,
  ICredit,
  IDeliver,
  IEmbedding,
  IError,
  IFrame,
  IHello,
  IHistoryChunk,
  IHistoryGet,
  IHlcTimestamp,
  IPing,
  IPong,
  IPublish,
  IPulse,
  IReply,
  IRequest,
  ISpectral,
  ISubscribe,
  ISubscribed,
  IUnsubscribe,
  IWelcome,
  OverflowPolicyValues,
  StartModeValues,
} from "./gen/types.ts";

/** An enum of the schema as a frozen object keyed by its members' names without `prefix`. */
function shortNames<T>(name: string, prefix: string): T {
  const values = schemaRoot.lookupEnum(`arqon.v1.${name}`).values;
  const out: Record<string, number> = {};
  for (const [member, value] of Object.entries(values)) {
    if (!member.startsWith(prefix)) throw new Error(`${name}.${member} lacks prefix ${prefix}`);
    out[member.slice(prefix.length)] = value;
  }
  return Object.freeze(out) as T;
}

/** `AckMode` values. */
export const AckMode: AckModeValues = shortNames("AckMode", "ACK_MODE_");
/** `StartMode` values. */
export const StartMode: StartModeValues = shortNames("StartMode", "START_MODE_");
/** `OverflowPolicy` values. */
export const OverflowPolicy: OverflowPolicyValues = shortNames(
  "OverflowPolicy",
  "OVERFLOW_POLICY_",
);
/** `DeliveryOrder` values (`Subscribe.order`). */
export const DeliveryOrder: DeliveryOrderValues = shortNames("DeliveryOrder", "DELIVERY_ORDER_");
/** `ErrorCode` values, by their names without the `ERROR_CODE_` prefix. */
export const ErrorCode: ErrorCodeValues = shortNames("ErrorCode", "ERROR_CODE_");
/** A name of an `ErrorCode` without its prefix, e.g. `INVALID_TOPIC`. */
export type ErrorCodeName = keyof typeof ErrorCode;
