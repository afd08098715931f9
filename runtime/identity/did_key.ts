/**
 * `did:key` agent identities: Ed25519 (classical) and ML-DSA (post-quantum, FIPS 204).
 * A DID is the multibase (base58btc, `z` prefix) encoding of a multicodec-tagged public
 * key, so the node can verify a signature from the DID string alone, with no registry.
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { ml_dsa44, ml_dsa65, ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { base58 } from "@scure/base";

/** Signature algorithms a `did:key` identity may use. */
export type DidAlgorithm = "Ed25519" | "ML-DSA-44" | "ML-DSA-65" | "ML-DSA-87";

interface Scheme {
  /** Unsigned-varint multicodec prefix of the public key (multiformats registry). */
  readonly prefix: readonly number[];
  readonly publicKeyBytes: number;
  keygen(): { publicKey: Uint8Array; secretKey: Uint8Array };
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

const SCHEMES: Readonly<Record<DidAlgorithm, Scheme>> = {
  // ed25519-pub = 0xed
  "Ed25519": { prefix: [0xed, 0x01], publicKeyBytes: 32, ...ed25519 },
  // mldsa-44-pub = 0x1210, mldsa-65-pub = 0x1211, mldsa-87-pub = 0x1212
  "ML-DSA-44": { prefix: [0x90, 0x24], publicKeyBytes: 1312, ...ml_dsa44 },
  "ML-DSA-65": { prefix: [0x91, 0x24], publicKeyBytes: 1952, ...ml_dsa65 },
  "ML-DSA-87": { prefix: [0x92, 0x24], publicKeyBytes: 2592, ...ml_dsa87 },
};

const DID_KEY = "did:key:z";

/** An agent's key pair together with its DID. The secret key never leaves the agent. */
export interface AgentIdentity {
  /** The `did:key:z...` string naming the public key. */
  readonly did: string;
  /** The signature algorithm of the key pair. */
  readonly algorithm: DidAlgorithm;
  /** The public key, as encoded in the DID. */
  readonly publicKey: Uint8Array;
  /** The secret key; keep it with the agent. */
  readonly secretKey: Uint8Array;
}

/** The public half of a DID, as decoded from the DID string. */
export interface DidPublicKey {
  /** The signature algorithm the DID names. */
  readonly algorithm: DidAlgorithm;
  /** The raw public key. */
  readonly publicKey: Uint8Array;
}

/** Creates a fresh identity; Ed25519 unless a post-quantum algorithm is asked for. */
export function generateAgentIdentity(algorithm: DidAlgorithm = "Ed25519"): AgentIdentity {
  const scheme = SCHEMES[algorithm];
  if (!scheme) throw new TypeError(`unknown DID algorithm ${algorithm}`);
  const { publicKey, secretKey } = scheme.keygen();
  return { did: didFromPublicKey(algorithm, publicKey), algorithm, publicKey, secretKey };
}

/** Encodes a public key as `did:key:z...`. */
export function didFromPublicKey(algorithm: DidAlgorithm, publicKey: Uint8Array): string {
  const scheme = SCHEMES[algorithm];
  if (publicKey.length !== scheme.publicKeyBytes) {
    throw new TypeError(`${algorithm} public key must be ${scheme.publicKeyBytes} bytes`);
  }
  const bytes = new Uint8Array(scheme.prefix.length + publicKey.length);
  bytes.set(scheme.prefix);
  bytes.set(publicKey, scheme.prefix.length);
  return DID_KEY + base58.encode(bytes);
}

/** Decodes a `did:key` string; throws a `TypeError` for anything malformed or unsupported. */
export function parseDidKey(did: string): DidPublicKey {
  if (typeof did !== "string" || !did.startsWith(DID_KEY)) {
    throw new TypeError("not a did:key with base58btc multibase");
  }
  let bytes: Uint8Array;
  try {
    bytes = base58.decode(did.slice(DID_KEY.length));
  } catch {
    throw new TypeError("did:key is not valid base58btc");
  }
  for (const [algorithm, scheme] of Object.entries(SCHEMES) as [DidAlgorithm, Scheme][]) {
    const p = scheme.prefix;
    if (bytes[0] === p[0] && bytes[1] === p[1]) {
      const publicKey = bytes.subarray(p.length);
      if (publicKey.length !== scheme.publicKeyBytes) {
        throw new TypeError(`${algorithm} did:key has a public key of the wrong length`);
      }
      return { algorithm, publicKey };
    }
  }
  throw new TypeError("did:key uses an unsupported key type");
}

/** Signs `message` with the identity's secret key. */
export function signAsAgent(identity: AgentIdentity, message: Uint8Array): Uint8Array {
  return SCHEMES[identity.algorithm].sign(message, identity.secretKey);
}

/**
 * Verifies `signature` over `message` against the key inside `did`. Returns false for a
 * bad signature or a malformed DID; never throws, so callers can treat it as a predicate.
 */
export function verifyDidSignature(
  did: string,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    const { algorithm, publicKey } = parseDidKey(did);
    return SCHEMES[algorithm].verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

const encoder = new TextEncoder();

/**
 * The exact bytes an agent signs to answer a node's challenge. Binding the node id and the
 * DID into the message stops an answer given to one node (or for one DID) being replayed
 * to another; the nonce makes it single-use.
 */
export function challengeMessage(nodeId: string, did: string, nonce: Uint8Array): Uint8Array {
  const head = encoder.encode(`arqon.v1.did-challenge\n${nodeId}\n${did}\n`);
  const out = new Uint8Array(head.length + nonce.length);
  out.set(head);
  out.set(nonce, head.length);
  return out;
}

/** Signs a node's challenge nonce: the answer goes in the hello's `signature` field. */
export function answerChallenge(
  identity: AgentIdentity,
  nodeId: string,
  nonce: Uint8Array,
): Uint8Array {
  return signAsAgent(identity, challengeMessage(nodeId, identity.did, nonce));
}
