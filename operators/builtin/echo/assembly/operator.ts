// Built-in operator `echo`: republishes every input pulse (payload, content type and
// headers) on the topic its config names: `{"to": "<topic>"}`. Stateless, so it runs as
// any number of parallel instances. Useful to bridge topics (fan several patterns into one
// topic), and as the smallest example of an operator.
import { Header, JsonKind, output, parseJsonString, Pulse } from "@arqon/operator";

let to: string = "";

export function init(config: string): string | null {
  const c = parseJsonString(config);
  if (c === null || c.kind != JsonKind.Object) return "config must be a JSON object";
  const t = c.get("to");
  if (t === null || t.kind != JsonKind.String || t.str.length == 0) {
    return "config.to must name the topic to republish on";
  }
  to = t.str;
  return null;
}

export function handle(pulse: Pulse): Pulse[] {
  // The input is valid during this call only: the output carries copies.
  const out = output(to, pulse.payload.slice(), pulse.contentType);
  const headers = new Array<Header>(0);
  for (let i = 0; i < pulse.headers.length; i++) {
    const h = pulse.headers[i];
    headers.push(new Header(h.name, h.value));
  }
  out.headers = headers;
  return [out];
}
