/**
 * Key and token tool of a node.
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

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    "auth-key": { type: "string", default: "data/node.key" },
    "key-file": { type: "string", default: "data/store.keys" },
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

async function ensureDir(path: string): Promise<void> {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
}

function usage(): never {
  console.error(
    "usage: deno task token keygen|issue|jwks|store-key init|store-key rotate|did [flags]\n" +
      "see the header of scripts/token.ts and docs/security.md",
  );
  Deno.exit(2);
}

const command = positionals[0];
if (values.help || !command) usage();

switch (command) {
  case "keygen": {
    await ensureDir(values["auth-key"]);
    const key = await writeNodeKeyFile(values["auth-key"]);
    console.log(
      `wrote ${values["auth-key"]} (kid ${key.kid}); start the node with --auth-key ${
        values["auth-key"]
      }`,
    );
    break;
  }
  case "issue": {
    if (!values.subject) {
      console.error("issue needs --subject");
      Deno.exit(2);
    }
    const key = await readNodeKeyFile(values["auth-key"]);
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
    const key = await readNodeKeyFile(values["auth-key"]);
    console.log(JSON.stringify({ keys: [key.publicJwk] }, null, 2));
    break;
  }
  case "store-key": {
    const path = values["key-file"];
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
