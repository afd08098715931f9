// The values a policy author handles: the pulse context and the verdict.

/** One header of a pulse. */
export class Header {
  constructor(public name: string, public value: string) {}
}

/** What a policy sees of a pulse besides its payload. */
export class Context {
  constructor(
    public reality: string,
    public topic: string,
    public producer: string,
    public headers: Header[],
    public contentType: string,
  ) {}

  /** The value of header `name`, or null. */
  header(name: string): string | null {
    for (let i = 0; i < this.headers.length; i++) {
      if (this.headers[i].name == name) return this.headers[i].value;
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
