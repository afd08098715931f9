/**
 * Helpers of the operator end-to-end tests: install over HTTP (fetch, multipart or JSON),
 * raw WebSocket clients on the JSON subprotocol, and reading what they received.
 * @module
 */
import { RawSocket } from "./raw_ws.ts";

/** A JSON HTTP answer. */
export interface Answer {
  readonly status: number;
  // deno-lint-ignore no-explicit-any
  readonly body: any;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** `PUT /v1/operators/{name}` with a component and a manifest (multipart). */
export async function install(
  url: string,
  name: string,
  manifest: unknown,
  component: Uint8Array,
): Promise<Answer> {
  const form = new FormData();
  form.append("component", new Blob([component as Uint8Array<ArrayBuffer>]), "op.wasm");
  form.append("manifest", JSON.stringify(manifest));
  return answer(await fetch(`${url}/v1/operators/${name}`, { method: "PUT", body: form }));
}

/** A JSON request to the node. */
export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  return answer(
    await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
}

/** A raw WebSocket client (JSON subprotocol) subscribed to `pattern` in `reality`. */
export async function client(wsUrl: string, pattern: string, reality = ""): Promise<RawSocket> {
  const s = await RawSocket.open(wsUrl, "arqon.v1.json");
  s.send(JSON.stringify({ hello: { clientName: "feeder", protocolVersion: 1 } }));
  await s.until(() => s.json.some((f) => f.welcome), "welcome");
  s.send(JSON.stringify({
    subscribe: { subscriptionId: 1, pattern, correlationId: "5", realityId: reality },
  }));
  await s.until(() => s.json.some((f) => f.subscribed), "subscribed");
  return s;
}

/** Publishes a text pulse. */
export function publish(
  s: RawSocket,
  topic: string,
  text: string,
  extra: Record<string, unknown> = {},
): void {
  s.send(JSON.stringify({ publish: { pulse: { topic, payload: btoa(text), ...extra } } }));
}

/** A delivered pulse in the proto3 JSON mapping. */
export type Pulse = Record<string, unknown> & { payload: string; topic: string };

/** The pulses delivered to `s` (on `topic`, when given). */
export function delivered(s: RawSocket, topic?: string): Pulse[] {
  return s.json.filter((f) => f.deliver)
    .map((f) => (f.deliver as { pulse: Pulse }).pulse)
    .filter((p) => topic === undefined || p.topic === topic);
}

/** The payload of a delivered pulse as JSON. */
export function payloadJson(p: { payload?: string }): Record<string, unknown> {
  return JSON.parse(atob(p.payload ?? ""));
}

/** Polls `GET /v1/operators/{name}` until `ok` holds (5 s). */
export async function waitStatus(
  url: string,
  name: string,
  ok: (status: Record<string, unknown>) => boolean,
  what: string,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5000;
  let got: Record<string, unknown> = {};
  while (Date.now() < deadline) {
    got = (await call(url, "GET", `/v1/operators/${name}`)).body;
    if (ok(got)) return got;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(got)}`);
}
