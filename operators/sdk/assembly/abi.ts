// Canonical ABI glue between the host and an AssemblyScript operator (world
// `arqon:bus/operator`); the generated entry calls these, authors never do. The memory model
// (bump allocator released after each call) is the policy SDK's: see `@arqon/casil/abi`.
import { storeString } from "@arqon/casil/abi";
import { Header } from "@arqon/casil/types";
import { Pulse } from "./pulse";

let configText: string = "{}";

/** Keeps the configuration given to `init` (allocated before the mark: it survives calls). */
export function setConfig(text: string): void {
  configText = text;
}

/** The configuration given at installation (JSON text, `{}` when none). */
export function config(): string {
  return configText;
}

function str(ptr: usize, len: usize): string {
  return String.UTF8.decodeUnsafe(ptr, len);
}

function headersAt(ptr: usize, n: usize): Header[] {
  const out = new Array<Header>(<i32>n);
  for (let i: usize = 0; i < n; i++) {
    const at = ptr + i * 16;
    out[<i32>i] = new Header(
      str(load<usize>(at), load<usize>(at, 4)),
      str(load<usize>(at, 8), load<usize>(at, 12)),
    );
  }
  return out;
}

/** The input pulse from `handle`'s flattened arguments. */
export function readPulse(
  topicPtr: usize,
  topicLen: usize,
  realityPtr: usize,
  realityLen: usize,
  producerPtr: usize,
  producerLen: usize,
  headersPtr: usize,
  headersLen: usize,
  contentTypePtr: usize,
  contentTypeLen: usize,
  payloadPtr: usize,
  payloadLen: usize,
  entropySeed: u64,
  wallMs: u64,
  logical: u32,
): Pulse {
  const payload = payloadLen == 0
    ? new Uint8Array(0)
    : Uint8Array.wrap(changetype<ArrayBuffer>(payloadPtr), 0, <i32>payloadLen);
  return new Pulse(
    str(topicPtr, topicLen),
    str(realityPtr, realityLen),
    str(producerPtr, producerLen),
    headersAt(headersPtr, headersLen),
    str(contentTypePtr, contentTypeLen),
    payload,
    entropySeed,
    wallMs,
    logical,
  );
}

/** `on-control`'s parameters as headers (name, value). */
export function readParams(ptr: usize, n: usize): Header[] {
  return headersAt(ptr, n);
}

/** Size of a `pulse` record in a list (canonical ABI: align 8). */
const PULSE_SIZE: usize = 72;

/** Lays out a `list<pulse>` (pointer and length at the returned address). */
export function writePulses(pulses: Pulse[]): usize {
  const area = __alloc(8);
  const n = <usize>pulses.length;
  const items = __alloc(n * PULSE_SIZE + 8);
  // The stub aligns blocks to 16 bytes; keep the list 8-aligned whatever it does.
  const base = (items + 7) & ~(<usize>7);
  for (let i: usize = 0; i < n; i++) {
    const p = pulses[<i32>i];
    const at = base + i * PULSE_SIZE;
    storeString(at, p.topic);
    storeString(at + 8, p.reality);
    storeString(at + 16, p.producer);
    const h = p.headers;
    const hn = <usize>h.length;
    const hp = __alloc(hn * 16 + 4);
    for (let j: usize = 0; j < hn; j++) {
      storeString(hp + j * 16, h[<i32>j].name);
      storeString(hp + j * 16 + 8, h[<i32>j].value);
    }
    store<usize>(at + 24, hp);
    store<usize>(at + 24, hn, 4);
    storeString(at + 32, p.contentType);
    store<usize>(at + 40, p.payload.dataStart);
    store<usize>(at + 40, <usize>p.payload.length, 4);
    store<u64>(at + 48, p.entropySeed);
    store<u64>(at + 56, p.wallMs);
    store<u32>(at + 64, p.logical);
  }
  store<usize>(area, base);
  store<usize>(area, n, 4);
  return area;
}
