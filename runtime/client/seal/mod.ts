/**
 * Client-side cryptography: post-quantum sealing of payloads between agents, and
 * `did:key` agent identities that answer the node's challenge in the hello.
 * @module
 */
export {
  generateSealKeyPair,
  isSealed,
  open,
  seal,
  SEAL_OVERHEAD_BYTES,
  type SealKeyPair,
} from "./hybrid_seal.ts";
export {
  type AgentIdentity,
  answerChallenge,
  challengeMessage,
  type DidAlgorithm,
  didFromPublicKey,
  type DidPublicKey,
  generateAgentIdentity,
  parseDidKey,
  signAsAgent,
  verifyDidSignature,
} from "./did_key.ts";
