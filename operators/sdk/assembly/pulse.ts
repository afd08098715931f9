// The pulse an operator receives and the pulses it emits.
import { Header } from "@arqon/casil/types";

/**
 * Spectral metadata of a pulse (PRD FR-EMERG-01): subscribers can filter on it
 * (`spectral_filter: "coherence >= 0.75"`). Numbers must be finite and there may be at most
 * 64 eigenvalues, else the pulse that emitted it fails.
 */
export class Spectral {
  constructor(
    public coherence: f64 = 0,
    public criticality: f64 = 0,
    public eigenvalues: f64[] = [],
  ) {}
}

/**
 * A pulse as an operator sees it. An input pulse (and its payload) is valid during its
 * `handle` call only: copy what must outlive it into state (`stateSet`).
 */
export class Pulse {
  constructor(
    public topic: string,
    public reality: string,
    public producer: string,
    public headers: Header[],
    public contentType: string,
    public payload: Uint8Array,
    public entropySeed: u64 = 0,
    public wallMs: u64 = 0,
    public logical: u32 = 0,
    public spectral: Spectral | null = null,
  ) {}

  /** Sets the pulse's spectral metadata (on an output); returns the pulse. */
  withSpectral(coherence: f64, criticality: f64 = 0, eigenvalues: f64[] = []): Pulse {
    this.spectral = new Spectral(coherence, criticality, eigenvalues);
    return this;
  }

  /** The value of header `name`, or null. */
  header(name: string): string | null {
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) {
      if (headers[i].name == name) return headers[i].value;
    }
    return null;
  }

  /** The payload as UTF-8 text. */
  text(): string {
    return String.UTF8.decodeUnsafe(this.payload.dataStart, <usize>this.payload.length);
  }
}

/**
 * A pulse to emit on `topic` (in the operator's reality; the node sets the producer,
 * sequence, timestamp and trace).
 */
export function output(
  topic: string,
  payload: Uint8Array,
  contentType: string = "application/octet-stream",
): Pulse {
  return new Pulse(topic, "", "", [], contentType, payload);
}

/** A pulse to emit on `topic` with a text payload (JSON unless `contentType` says otherwise). */
export function outputText(
  topic: string,
  text: string,
  contentType: string = "application/json",
): Pulse {
  return output(topic, Uint8Array.wrap(String.UTF8.encode(text)), contentType);
}
