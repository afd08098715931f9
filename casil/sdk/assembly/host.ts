// The node's deterministic host functions (interface `arqon:bus/host`). A function is
// imported by the compiled policy only when the policy calls it.

// @ts-ignore: decorator
@external("arqon:bus/host@0.1.0", "log")
declare function hostLog(level: i32, ptr: usize, len: usize): void;

// @ts-ignore: decorator
@external("arqon:bus/host@0.1.0", "random-u64")
declare function hostRandom(): u64;

// @ts-ignore: decorator
@external("arqon:bus/host@0.1.0", "logical-time")
declare function hostLogicalTime(retptr: usize): void;

/** Log levels of `log`. */
export enum LogLevel {
  Debug = 0,
  Info = 1,
  Warn = 2,
  Error = 3,
}

/** Writes a line to the node's log. */
export function log(level: LogLevel, message: string): void {
  const buf = String.UTF8.encode(message);
  hostLog(<i32>level, changetype<usize>(buf), <usize>buf.byteLength);
}

/** The next value of the pulse's deterministic random stream (seeded by `entropy_seed`). */
export function randomU64(): u64 {
  return hostRandom();
}

/** A hybrid logical clock reading. */
export class HlcTimestamp {
  constructor(public wallMs: u64, public logical: u32) {}
}

/** The pulse's logical time. */
export function logicalTime(): HlcTimestamp {
  const area = __alloc(16);
  hostLogicalTime(area);
  return new HlcTimestamp(load<u64>(area), load<u32>(area, 8));
}
