/**
 * `deno task proxy`: the native proxy as a process (see runtime/proxy and docs/proxy.md).
 *
 *   deno task proxy --bus ws://127.0.0.1:7420/v1/ws --upstream http://127.0.0.1:9000 \
 *     --serve 'svc.billing.>' [--listen 127.0.0.1:7480] [--token ...] [--reality ...]
 *
 * Prints `proxy ready (serve <pattern> -> <upstream>) (listen <url>)` once connected,
 * subscribed and listening; SIGINT/SIGTERM close it. Bad flags: the reason on stderr,
 * exit 2.
 * @module
 */
import { BusError } from "../runtime/protocol/mod.ts";
import { parseProxyArgs, proxyUsage, startProxy } from "../runtime/proxy/mod.ts";

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(proxyUsage());
  Deno.exit(0);
}

let options;
try {
  options = parseProxyArgs(Deno.args, Deno.env.toObject());
} catch (err) {
  console.error(`proxy: ${(err as Error).message}\n(deno task proxy --help lists the flags)`);
  Deno.exit(2);
}

let proxy;
try {
  proxy = await startProxy(options, {
    onRetry: (err) => console.error(`proxy: node not reachable (${err.message}); retrying`),
  });
} catch (err) {
  console.error(
    `proxy: ${err instanceof BusError ? `${err.code}: ` : ""}${(err as Error).message}`,
  );
  Deno.exit(1);
}

const parts = ["proxy ready"];
if (options.serve) parts.push(`(serve ${options.serve} -> ${options.upstream})`);
if (proxy.listenUrl) parts.push(`(listen ${proxy.listenUrl})`);
console.log(parts.join(" "));

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await proxy.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
