// Canonical ABI glue between the host and an AssemblyScript operator (world
// `arqon:bus/operator`); the generated entry calls these, authors never do. The memory model
// (bump allocator released after each call) is the policy SDK's: see `@arqon/casil/abi`.
import { storeString } from "@arqon/casil/abi";
import { Header } from "@arqon/casil/types";
import { Pulse, Spectral } from "./pulse";

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

/**
 * The input pulse from the record the host wrote at `at` (the pulse flattens to more core
 * values than the canonical ABI passes directly). Layout: `PULSE_SIZE` below.
 */
export function readPulse(at: usize): Pulse {
  const payloadPtr = load<usize>(at, 40);
  const payloadLen = load<usize>(at, 44);
  const payload = payloadLen == 0
    ? new Uint8Array(0)
    : Uint8Array.wrap(changetype<ArrayBuffer>(payloadPtr), 0, <i32>payloadLen);
  let spectral: Spectral | null = null;
  if (load<u8>(at, 72) != 0) {
    const n = <i32>load<usize>(at, 100);
    const ep = load<usize>(at, 96);
    const eigenvalues = new Array<f64>(n);
    for (let i = 0; i < n; i++) eigenvalues[i] = load<f64>(ep + (<usize>i << 3));
    spectral = new Spectral(load<f64>(at, 80), load<f64>(at, 88), eigenvalues);
  }
  return new Pulse(
    str(load<usize>(at), load<usize>(at, 4)),
    str(load<usize>(at, 8), load<usize>(at, 12)),
    str(load<usize>(at, 16), load<usize>(at, 20)),
    headersAt(load<usize>(at, 24), load<usize>(at, 28)),
    str(load<usize>(at, 32), load<usize>(at, 36)),
    payload,
    load<u64>(at, 48),
    load<u64>(at, 56),
    load<u32>(at, 64),
    spectral,
  );
}

/** `on-control`'s parameters as headers (name, value). */
export function readParams(ptr: usize, n: usize): Header[] {
  return headersAt(ptr, n);
}

/**
 * Size of a `pulse` record (canonical ABI: align 8): six (pointer, length) pairs, the entropy
 * seed at 48, the timestamp at 56 (wall u64, logical u32 at 64), and `option<spectral>` at 72
 * (discriminant byte; coherence f64 at 80, criticality f64 at 88, eigenvalues at 96).
 */
const PULSE_SIZE: usize = 104;

/** Lays out `eigenvalues` as a `list<f64>` (8-aligned); returns its address. */
function writeF64s(values: f64[]): usize {
  const n = <usize>values.length;
  const raw = __alloc(n * 8 + 8);
  const base = (raw + 7) & ~(<usize>7);
  for (let i: usize = 0; i < n; i++) store<f64>(base + (i << 3), values[<i32>i]);
  return base;
}

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
    const sp = p.spectral;
    if (sp === null) {
      store<u8>(at + 72, 0);
    } else {
      store<u8>(at + 72, 1);
      store<f64>(at + 80, sp.coherence);
      store<f64>(at + 88, sp.criticality);
      const e = sp.eigenvalues;
      store<usize>(at + 96, e.length == 0 ? 0 : writeF64s(e));
      store<usize>(at + 96, <usize>e.length, 4);
    }
  }
  store<usize>(area, base);
  store<usize>(area, n, 4);
  return area;
}
