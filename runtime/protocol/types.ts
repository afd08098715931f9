/**
 * TypeScript shapes of the messages in `arqon.proto` (package `arqon.v1`), as protobufjs
 * decodes and encodes them: camelCase fields, uint64 as `number`, bytes as `Uint8Array`,
 * enums as numbers. Every field is optional on input; decoded messages carry defaults.
 *
 * Nothing here is written by hand beside the schema: the shapes are derived from the
 * declarations that protobufjs's CLI generates from `arqon.proto` at build time
 * (`scripts/build_proto.ts` writes `gen/arqon.d.ts`), and the enum values are read from
 * the schema the runtime codec loads. A field added to the .proto appears here on the next
 * build. The derivation only narrows what pbts declares to what protobufjs accepts and
 * returns at run time with this codec's settings: scalars without `| null`, enums as plain
 * numbers (the codec does not check that a value is a known member).
 * @module
 */
import type { arqon } from "./gen/arqon.d.ts";
import { schemaRoot } from "./schema.ts";

/**
 * A field's value as protobufjs reads and writes it. pbts declares every field `T | null`;
 * protobufjs treats null as absent, so only message fields keep `| null` (as they always
 * have here); repeated and map fields hold values, never null.
 */
type Field<T> = T extends Uint8Array ? Uint8Array
  : T extends number ? number
  : T extends string ? string
  : T extends boolean ? boolean
  : T extends readonly (infer E)[] ? Value<NonNullable<E>>[]
  : IsMap<T> extends true ? Value<T>
  : T extends object ? Value<T> | null
  : T;

/** A map field is an object with a string index signature; any other object is a message. */
type IsMap<T> = T extends object ? (string extends keyof T ? true : false) : false;

/** An element of a repeated or map field, or a message. */
type Value<T> = T extends Uint8Array | number | string | boolean ? Field<T>
  : IsMap<T> extends true ? Record<string, Value<NonNullable<T[string & keyof T]>>>
  // Frames nest in batches: those carry the decoded `kind` too.
  : T extends object ? ("historyChunk" extends keyof T ? IFrame : Message<T>)
  : T;

/** A message shape with every field optional, as protobufjs's `encode`/`decode` use them. */
type Message<T> = { [K in keyof T]?: Field<NonNullable<T[K]>> };

/** One object type from an intersection (reads as one shape in editors and docs). */
type Flat<T> = { [K in keyof T]: T[K] };

/** The value of a numeric enum member as a number literal type (`ACK_MODE_DURABLE` → 2). */
type NumberOf<V> = `${V & number}` extends `${infer N extends number}` ? N : never;

/** An enum's members by their names without the enum's prefix (`ACK_MODE_NONE` → `NONE`). */
type ShortNames<E, P extends string> = {
  readonly [K in keyof E as K extends `${P}${infer S}` ? S : never]: NumberOf<E[K]>;
};

/** An enum of the schema as a frozen object keyed by the members' short names. */
function shortNames<E, P extends string>(name: string, prefix: P): ShortNames<E, P> {
  const values = schemaRoot.lookupEnum(`arqon.v1.${name}`).values;
  const out: Record<string, number> = {};
  for (const [member, value] of Object.entries(values)) {
    if (!member.startsWith(prefix)) throw new Error(`${name}.${member} lacks prefix ${prefix}`);
    out[member.slice(prefix.length)] = value;
  }
  return Object.freeze(out) as ShortNames<E, P>;
}

/** Hybrid logical clock reading: wall time in ms plus a logical counter. */
export type IHlcTimestamp = Message<arqon.v1.IHlcTimestamp>;
/** Spectral metadata of a pulse. */
export type ISpectral = Message<arqon.v1.ISpectral>;
/** The envelope of one message. */
export type IPulse = Message<arqon.v1.IPulse>;

/** `AckMode` values. */
export const AckMode: ShortNames<typeof arqon.v1.AckMode, "ACK_MODE_"> = shortNames(
  "AckMode",
  "ACK_MODE_",
);
/** `StartMode` values. */
export const StartMode: ShortNames<typeof arqon.v1.StartMode, "START_MODE_"> = shortNames(
  "StartMode",
  "START_MODE_",
);
/** `OverflowPolicy` values. */
export const OverflowPolicy: ShortNames<typeof arqon.v1.OverflowPolicy, "OVERFLOW_POLICY_"> =
  shortNames("OverflowPolicy", "OVERFLOW_POLICY_");
/** `ErrorCode` values, by their names without the `ERROR_CODE_` prefix. */
export const ErrorCode: ShortNames<typeof arqon.v1.ErrorCode, "ERROR_CODE_"> = shortNames(
  "ErrorCode",
  "ERROR_CODE_",
);
/** A name of an `ErrorCode` without its prefix, e.g. `INVALID_TOPIC`. */
export type ErrorCodeName = keyof typeof ErrorCode;

/** Client greeting; `did`, `nonce` and `signature` answer a DID challenge. */
export type IHello = Message<arqon.v1.IHello>;
/** A DID challenge: sign it and send a second hello. */
export type IChallenge = Message<arqon.v1.IChallenge>;
/** Node greeting. */
export type IWelcome = Message<arqon.v1.IWelcome>;
/** Publish one pulse. */
export type IPublish = Message<arqon.v1.IPublish>;
/** Acknowledgement of a publish. */
export type IAck = Message<arqon.v1.IAck>;
/** Open a subscription. */
export type ISubscribe = Message<arqon.v1.ISubscribe>;
/** Confirms a subscription. */
export type ISubscribed = Message<arqon.v1.ISubscribed>;
/** Close a subscription. */
export type IUnsubscribe = Message<arqon.v1.IUnsubscribe>;
/** Grant deliveries to a flow-controlled subscription. */
export type ICredit = Message<arqon.v1.ICredit>;
/** One delivered pulse. */
export type IDeliver = Message<arqon.v1.IDeliver>;
/** Request/reply call. */
export type IRequest = Message<arqon.v1.IRequest>;
/** The answer to a request. */
export type IReply = Message<arqon.v1.IReply>;
/** A typed error. */
export type IError = Message<arqon.v1.IError>;
/** Liveness probe. */
export type IPing = Message<arqon.v1.IPing>;
/** Liveness answer. */
export type IPong = Message<arqon.v1.IPong>;
/** Many frames in one transport message. */
export type IBatch = Message<arqon.v1.IBatch>;
/** A history query (`history.get`); 0 leaves a bound open. */
export type IHistoryGet = Message<arqon.v1.IHistoryGet>;
/** One page of a history answer. */
export type IHistoryChunk = Message<arqon.v1.IHistoryChunk>;
/** One protocol frame: exactly one member is set. */
export type IFrame = Flat<
  Message<arqon.v1.IFrame> & {
    /**
     * The name of the member that is set (present on decoded frames): the `kind` oneof of
     * the generated `Frame` class, kept a plain string for callers that dispatch on it.
     */
    kind?: string;
  }
>;
