/**
 * Loads `arqon.proto` into protobufjs reflection types. protobufjs generates its
 * encoders and decoders from these at first use, so they run as fast as static code.
 * @module
 */
import protobuf from "protobufjs";
import { BusError } from "./errors.ts";

// uint64 fields decode as JS numbers (exact up to 2^53, far beyond any sequence or
// millisecond clock we will see) instead of Long objects, which would cost an
// allocation per field on the hot path.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

// Strings must be valid UTF-8; protobufjs would silently substitute U+FFFD.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
/** Thrown by decoding when a string field is not valid UTF-8. */
export class InvalidUtf8Error extends BusError {
  /** Creates the error. */
  constructor() {
    super("INVALID_UTF8", "string field is not valid UTF-8");
    this.name = "InvalidUtf8Error";
  }
}
function readStrictString(this: protobuf.Reader): string {
  const len = this.uint32();
  const start = this.pos;
  const end = start + len;
  if (end > this.len) throw new RangeError("index out of range: string extends past the frame");
  this.pos = end;
  if (len === 0) return "";
  const bytes = (this.buf as Uint8Array).subarray(start, end);
  // Fast path for ASCII, by far the common case (topics, ids, header names).
  let ascii = true;
  for (let i = 0; i < len; i++) {
    if (bytes[i] > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii && len < 64) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new InvalidUtf8Error();
  }
}
protobuf.Reader.prototype.string = readStrictString;
// deno-lint-ignore no-explicit-any
const bufferReader = (protobuf as any).BufferReader as typeof protobuf.Reader | undefined;
if (bufferReader) bufferReader.prototype.string = readStrictString;

// fetch (not readTextFile) so the schema also loads when the module is imported by URL.
const protoText = await (await fetch(new URL("./arqon.proto", import.meta.url))).text();

/** The parsed schema root. */
export const schemaRoot: protobuf.Root = protobuf.parse(protoText, { keepCase: false }).root;

/**
 * The same schema with the proto field names kept (`correlation_id`): the JSON mapping
 * accepts them beside the lowerCamelCase names.
 */
export const protoNameRoot: protobuf.Root = protobuf.parse(protoText, { keepCase: true }).root;

/** Reflection type of `arqon.v1.Frame`. */
export const FrameType: protobuf.Type = schemaRoot.lookupType("arqon.v1.Frame");
/** Reflection type of `arqon.v1.Pulse`. */
export const PulseType: protobuf.Type = schemaRoot.lookupType("arqon.v1.Pulse");
/** Reflection enum `arqon.v1.ErrorCode`. */
export const ErrorCodeEnum: protobuf.Enum = schemaRoot.lookupEnum("arqon.v1.ErrorCode");
