/**
 * Key and token tool of a node. Paths given on the command line are relative to where the
 * task is run; the defaults are the repository's `data/`, where `deno task start` keeps its
 * data. `deno task token --help` (or `deno task token <command> --help`) prints the usage.
 *
 *   deno task token keygen [--auth-key data/node.key]
 *   deno task token issue  [--auth-key data/node.key] --subject alice --reality lab
 *                          [--publish 'orders.>'] [--publish-deny 'orders.secret.>']
 *                          [--subscribe 'orders.>'] [--subscribe-deny ...]
 *                          [--role client] [--ttl 3600]
 *   deno task token jwks   [--auth-key data/node.key]        public keys for verifiers
 *   deno task token store-key init|rotate [--key-file data/store.keys]
 *   deno task token did    [--algorithm Ed25519|ML-DSA-65]   a fresh agent identity
 *
 * Repeat a list flag to give several values. `issue` prints only the token on stdout,
 * so `TOKEN=$(deno task token issue ...)` works; the audit line goes to stderr.
 * @module
 */
import { parseArgs } from "node:util";
import { Buffer } from "node:buffer";
import { type DidAlgorithm, generateAgentIdentity } from "../runtime/identity/mod.ts";
import {
  issueToken,
  readNodeKeyFile,
  type Role,
  writeNodeKeyFile,
} from "../runtime/shield/auth/mod.ts";
import { createKeyRingFile, rotateKeyRingFile } from "../runtime/store/crypto/mod.ts";
import { fromInvocationDir, helpRequested, printUsage } from "./task_cli.ts";

/** The usage of each command, printed by `--help` (exit 0) and after a usage error (exit 2). */
const USAGE: Record<string, string> = {
  "": `usage: deno task token <command> [options]

Commands:
  keygen      write a node signing key (start the node with --auth-key <file>)
  issue       print a signed bearer token for a client
  jwks        print the public keys (JWK Set) that verify the node's tokens
  store-key   init | rotate the key ring for encryption at rest (--key-file)
  did         print a fresh did:key agent identity

'deno task token <command> --help' shows a command's options; see docs/security.md.`,
  keygen: `usage: deno task token keygen [--auth-key <file>]

Writes a fresh node signing key.

Options:
  --auth-key <file>   where to write the key (default: data/node.key)`,
  issue: `usage: deno task token issue --subject <name> [options]

Prints a signed bearer token on stdout (so TOKEN=$(deno task -q token issue ...) works);
an audit line goes to stderr. List options may be repeated.

Options:
  --subject <name>           who the token names (required)
  --auth-key <file>          the node key that signs it (default: data/node.key)
  --reality <name>           a reality the token may use (repeatable; * for all; default: none)
  --publish <pattern>        topics it may publish to (repeatable; default: any)
  --publish-deny <pattern>   topics it may not publish to (repeatable)
  --subscribe <pattern>      topics it may subscribe to (repeatable; default: any)
  --subscribe-deny <pattern> topics it may not subscribe to (repeatable)
  --role <name>              admin, controller, operator or client (repeatable; default: client)
  --ttl <seconds>            lifetime in seconds (default: 3600)`,
  jwks: `usage: deno task token jwks [--auth-key <file>]

Prints the public JWK Set of a node key, for verifiers that take one.

Options:
  --auth-key <file>   the node key (default: data/node.key)`,
  "store-key": `usage: deno task token store-key init|rotate [--key-file <file>]

init writes a fresh key ring for encryption at rest (start the node with --key-file);
rotate adds a new active key and keeps the old ones for reading.

Options:
  --key-file <file>   the key ring (default: data/store.keys)`,
  did: `usage: deno task token did [--algorithm Ed25519|ML-DSA-65]

Prints a fresh agent identity: its did:key and base64 secret key.

Options:
  --algorithm <name>  Ed25519 or ML-DSA-65 (default: Ed25519)`,
};

const parsed = (() => {
  try {
    return parseArgs({
      args: Deno.args,
      allowPositionals: true,
      options: {
        "auth-key": { type: "string" },
        "key-file": { type: "string" },
        subject: { type: "string" },
        reality: { type: "string", multiple: true, default: [] },
        publish: { type: "string", multiple: true },
        "publish-deny": { type: "string", multiple: true },
        subscribe: { type: "string", multiple: true },
        "subscribe-deny": { type: "string", multiple: true },
        role: { type: "string", multiple: true, default: [] },
        ttl: { type: "string", default: "3600" },
        algorithm: { type: "string", default: "Ed25519" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    // An unknown or malformed option: say which, then the usage (exit 2), never a stack.
    console.error(`token: ${e instanceof Error ? e.message : e}\n\n${USAGE[""]}`);
    Deno.exit(2);
  }
})();
const { values, positionals } = parsed;

async function ensureDir(path: string): Promise<void> {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
}

function usage(): never {
  console.error(USAGE[command in USAGE ? command : ""]);
  Deno.exit(2);
}

const command = positionals[0] ?? "";
if (values.help || helpRequested()) printUsage(USAGE[command in USAGE ? command : ""]);
if (!command) usage();
// Paths typed by the user are relative to where they ran the task (not the repository).
const authKey = values["auth-key"] ? fromInvocationDir(values["auth-key"]) : "data/node.key";
const keyFile = values["key-file"] ? fromInvocationDir(values["key-file"]) : "data/store.keys";

switch (command) {
  case "keygen": {
    await ensureDir(authKey);
    const key = await writeNodeKeyFile(authKey);
    console.log(`wrote ${authKey} (kid ${key.kid}); start the node with --auth-key ${authKey}`);
    break;
  }
  case "issue": {
    if (!values.subject) {
      console.error("token issue: --subject is required\n\n" + USAGE.issue);
      Deno.exit(2);
    }
    const key = await readNodeKeyFile(authKey);
    const rules = (allow?: string[], deny?: string[]) => ({
      ...(allow ? { allow } : {}),
      ...(deny ? { deny } : {}),
    });
    const token = await issueToken(key, {
      subject: values.subject,
      realities: values.reality,
      publish: rules(values.publish, values["publish-deny"]),
      subscribe: rules(values.subscribe, values["subscribe-deny"]),
      roles: (values.role.length ? values.role : ["client"]) as Role[],
      ttlSeconds: Number(values.ttl),
    });
    console.log(token);
    console.error(
      JSON.stringify({
        audit: "token.issue",
        kid: key.kid,
        subject: values.subject,
        realities: values.reality,
        roles: values.role,
        ttl: Number(values.ttl),
      }),
    );
    break;
  }
  case "jwks": {
    const key = await readNodeKeyFile(authKey);
    console.log(JSON.stringify({ keys: [key.publicJwk] }, null, 2));
    break;
  }
  case "store-key": {
    const path = keyFile;
    if (positionals[1] === "init") {
      await ensureDir(path);
      console.log(`wrote ${path} (active key ${await createKeyRingFile(path)})`);
    } else if (positionals[1] === "rotate") {
      console.log(`rotated ${path} (active key ${await rotateKeyRingFile(path)})`);
    } else usage();
    break;
  }
  case "did": {
    const agent = generateAgentIdentity(values.algorithm as DidAlgorithm);
    console.log(JSON.stringify(
      {
        did: agent.did,
        algorithm: agent.algorithm,
        secretKey: Buffer.from(agent.secretKey).toString("base64"),
      },
      null,
      2,
    ));
    break;
  }
  default:
    usage();
}
