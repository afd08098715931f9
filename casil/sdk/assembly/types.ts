// The values a policy author handles: the pulse context and the verdict.

/** One header of a pulse. */
export class Header {
  constructor(public name: string, public value: string) {}
}

/**
 * What a policy sees of a pulse besides its payload. Fields are decoded from the call's
 * arguments when first read (a policy that never looks at them pays nothing); like the
 * payload, a context is valid during its `evaluate` call only.
 */
export class Context {
  private _reality: string | null = null;
  private _topic: string | null = null;
  private _producer: string | null = null;
  private _contentType: string | null = null;
  private _headers: Header[] | null = null;

  constructor(
    private realityPtr: usize,
    private realityLen: usize,
    private topicPtr: usize,
    private topicLen: usize,
    private producerPtr: usize,
    private producerLen: usize,
    private headersPtr: usize,
    private headersLen: usize,
    private contentTypePtr: usize,
    private contentTypeLen: usize,
  ) {}

  /** The reality (namespace) of the pulse. */
  get reality(): string {
    let s = this._reality;
    if (s === null) this._reality = s = String.UTF8.decodeUnsafe(this.realityPtr, this.realityLen);
    return s;
  }

  /** The pulse's topic. */
  get topic(): string {
    let s = this._topic;
    if (s === null) this._topic = s = String.UTF8.decodeUnsafe(this.topicPtr, this.topicLen);
    return s;
  }

  /** The producer's authenticated identity. */
  get producer(): string {
    let s = this._producer;
    if (s === null) {
      this._producer = s = String.UTF8.decodeUnsafe(this.producerPtr, this.producerLen);
    }
    return s;
  }

  /** The pulse's content type. */
  get contentType(): string {
    let s = this._contentType;
    if (s === null) {
      this._contentType = s = String.UTF8.decodeUnsafe(this.contentTypePtr, this.contentTypeLen);
    }
    return s;
  }

  /** The pulse's headers, sorted by name. */
  get headers(): Header[] {
    let h = this._headers;
    if (h === null) {
      const n = <i32>this.headersLen;
      h = new Array<Header>(n);
      for (let i = 0; i < n; i++) {
        const at = this.headersPtr + <usize>i * 16;
        h[i] = new Header(
          String.UTF8.decodeUnsafe(load<usize>(at), load<usize>(at, 4)),
          String.UTF8.decodeUnsafe(load<usize>(at, 8), load<usize>(at, 12)),
        );
      }
      this._headers = h;
    }
    return h;
  }

  /** The value of header `name`, or null. */
  header(name: string): string | null {
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) {
      if (headers[i].name == name) return headers[i].value;
    }
    return null;
  }
}

/** A policy's decision: allow, deny with a reason, or redact (replace the payload). */
export class Verdict {
  constructor(public kind: u8, public reason: string, public payload: Uint8Array | null) {}
}

/** Lets the pulse through unchanged. */
export function allow(): Verdict {
  return new Verdict(0, "", null);
}

/** Rejects the pulse; `reason` is sent to the publisher. */
export function deny(reason: string): Verdict {
  return new Verdict(1, reason, null);
}

/** Lets the pulse through with `payload` instead of its own. */
export function redact(payload: Uint8Array, reason: string): Verdict {
  return new Verdict(2, reason, payload);
}
