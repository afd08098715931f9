import assert from "node:assert/strict";
import { BusError } from "../protocol/mod.ts";
import { parseProxyArgs, PROXY_DEFAULTS, PROXY_FLAGS, proxyUsage } from "./options.ts";

const BUS = ["--bus", "ws://127.0.0.1:7420/v1/ws"];
const SERVE = ["--upstream", "http://127.0.0.1:9000", "--serve", "svc.billing.>"];

function refused(args: string[], flag: string): void {
  assert.throws(
    () => parseProxyArgs(args),
    (e: unknown) =>
      e instanceof BusError && e.code === "INVALID_ARGUMENT" && e.message.includes(flag),
    `${args.join(" ")} should be refused naming ${flag}`,
  );
}

Deno.test("proxy options: defaults, flags over env, derived queue group", () => {
  const o = parseProxyArgs([...BUS, ...SERVE, "--concurrency", "8"], {
    ARQON_PROXY_CONCURRENCY: "3",
    ARQON_PROXY_LISTEN: "127.0.0.1:7480",
  });
  assert.equal(o.concurrency, 8);
  assert.equal(o.listen, "127.0.0.1:7480");
  assert.equal(o.maxBodyBytes, PROXY_DEFAULTS.maxBodyBytes);
  assert.equal(o.queueGroup, "proxy_svc_billing");
  assert.equal(o.reality, "default");
  const listenOnly = parseProxyArgs([...BUS, "--listen", "[::1]:0"]);
  assert.equal(listenOnly.serve, "");
  assert.equal(listenOnly.queueGroup, "");
});

Deno.test("proxy options: bad values are refused naming their flag", () => {
  refused([], "--bus");
  refused(["--bus", "http://x"], "--bus");
  refused([...BUS], "--serve");
  refused([...BUS, "--serve", "svc.billing.>"], "--upstream");
  refused([...BUS, "--upstream", "http://x:1"], "--serve");
  refused([...BUS, "--upstream", "ftp://x", "--serve", "a.>"], "--upstream");
  refused([...BUS, "--upstream", "http://x/?q=1", "--serve", "a.>"], "--upstream");
  refused([...BUS, "--upstream", "http://x", "--serve", "svc.billing"], "--serve");
  refused([...BUS, "--upstream", "http://x", "--serve", "svc.*.>"], "--serve");
  refused([...BUS, "--upstream", "http://x", "--serve", "Svc.>"], "--serve");
  refused([...BUS, "--listen", "7480"], "--listen");
  refused([...BUS, "--listen", "h:99999"], "--listen");
  refused([...BUS, ...SERVE, "--concurrency", "0"], "--concurrency");
  refused([...BUS, ...SERVE, "--concurrency", "-1"], "--concurrency");
  refused([...BUS, ...SERVE, "--max-body-bytes", "1e3"], "--max-body-bytes");
  refused([...BUS, ...SERVE, "--request-timeout-ms", "400000"], "--request-timeout-ms");
  refused([...BUS, ...SERVE, "--reality", "No Such"], "--reality");
  refused([...BUS, ...SERVE, "--queue-group", "a.b"], "--queue-group");
  // An unknown flag is the parser's refusal, still typed.
  assert.throws(
    () => parseProxyArgs([...BUS, "--nope", "1"]),
    (e: unknown) => e instanceof BusError && e.code === "INVALID_ARGUMENT",
  );
});

Deno.test("proxy options: --help names every flag", () => {
  const text = proxyUsage();
  for (const f of PROXY_FLAGS) assert.ok(text.includes(`--${f.flag}`), f.flag);
});
