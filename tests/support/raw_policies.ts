/**
 * What the raw-client policy tests share: installing a policy over HTTP and a raw WebSocket
 * session that said hello (no SDK on either path).
 * @module
 */
import assert from "node:assert/strict";
import { F, pb } from "./pb.ts";
import { RawSocket } from "./raw_ws.ts";

/** The binary subprotocol. */
export const PROTO = "arqon.v1.proto";

/** A Hello frame naming the client. */
export const hello = (name: string): Uint8Array => pb([[F.hello, [[1, name], [2, 1]]]]);

/** Installs policy `name` (201 expected) with `query` (e.g. `?topics=x`). */
export async function putPolicy(
  url: string,
  name: string,
  body: Uint8Array<ArrayBuffer>,
  query: string,
): Promise<void> {
  const res = await fetch(`${url}/v1/policies/${name}${query}`, { method: "PUT", body });
  const text = await res.text();
  assert.equal(res.status, 201, text);
}

/** A raw WebSocket session that said hello as `name` and was welcomed. */
export async function connectRaw(url: string, name: string): Promise<RawSocket> {
  const s = await RawSocket.open(url, PROTO);
  s.send(hello(name));
  await s.wait(F.welcome);
  return s;
}
