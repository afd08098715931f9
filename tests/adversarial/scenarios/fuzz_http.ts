/**
 * Fuzz generator of HTTP requests: random methods, paths, headers and bodies; an error
 * answer must be typed.
 * @module
 */
import { ANSWER_MS, type FuzzKit } from "./fuzz_kit.ts";
import { mutateText } from "./fuzz_frames.ts";

/** A random HTTP request: an error answer must be typed. */
export async function httpCase(kit: FuzzKit): Promise<string> {
  const method = kit.pick(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]);
  const reality = kit.pick(["fz", "default", "%00", "..", "a".repeat(200), "r%2Fs"]);
  const path = kit.pick([
    "/healthz",
    "/metrics",
    "/v1/realities",
    `/v1/realities/${reality}`,
    `/v1/realities/${reality}/retention`,
    `/v1/realities/${reality}/history?from_seq=${kit.pick(["1", "-1", "x", "1e99"])}`,
    `/v1/realities/${reality}/topics/fz.a`,
    `/v1/realities/${reality}/topics/${kit.pick(["..", "*", "%20", ">"])}`,
    `/v1/realities/${reality}/request/fz.a?timeout_ms=${kit.pick(["1", "0", "-5", "x"])}`,
    "/v1/tokens",
    `/v1/policy-bindings/${reality}`,
    "/" + new TextDecoder().decode(mutateText(kit, "v1/realities/x/history")),
    `/v1/${kit.int(1e6)}`,
  ]).replace(/[^\x21-\x7e]/g, "%20");
  const headers: Record<string, string> = {};
  if (kit.random() < 0.5) {
    headers["content-type"] = kit.pick([
      "application/json",
      "text/plain",
      "application/x-protobuf",
      "multipart/form-data; boundary=x",
      "application/json; charset=latin1",
    ]);
  }
  if (kit.random() < 0.2) headers["origin"] = "https://evil.example";
  if (kit.random() < 0.1) headers["content-encoding"] = "gzip";
  let body: Uint8Array | undefined;
  if (method !== "GET" && method !== "HEAD" && kit.random() < 0.8) {
    body = mutateText(
      kit,
      kit.pick([
        '{"retention":[{"pattern":">"}]}',
        '{"retention":[{"pattern":">"}],"retention":[]}',
        '{"name":"fz","name":"fy"}',
        '{"policy":"energy_cap","config":{"max":1,"max":2}}',
        '{"payload":"aGk="}',
        "x".repeat(kit.int(100_000)),
      ]),
    );
  }
  let res: Response;
  try {
    res = await fetch(`${kit.node.httpUrl}${path}`, {
      method,
      headers,
      body: body as Uint8Array<ArrayBuffer> | undefined,
      signal: AbortSignal.timeout(ANSWER_MS),
    });
  } catch (err) {
    if (!kit.node.alive()) return "http node-dead";
    kit.violation(`http ${method} ${path.slice(0, 60)}: ${String(err).slice(0, 80)}`);
    return "http failed";
  }
  if (res.headers.get("content-type")?.includes("event-stream") || res.status < 400) {
    await res.body?.cancel();
    return `http ${res.status}`;
  }
  const text = await res.text().catch(() => "");
  let code = "";
  try {
    code = String(JSON.parse(text)?.error?.code ?? "");
  } catch { /* not JSON: untyped */ }
  if (method === "HEAD") return `http ${res.status}`; // a HEAD answer has no body
  if (!code) {
    kit.violation(`http ${method} ${path.slice(0, 60)}: ${res.status} ${text.slice(0, 60)}`);
  }
  kit.error(code, "http");
  return `http ${res.status}`;
}
