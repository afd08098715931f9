/**
 * Agent identity and payload sealing, shared by the client and the node: `did:key`
 * identities (Ed25519 or post-quantum ML-DSA) that answer the node's challenge in the
 * hello and that the node verifies from the DID alone, and hybrid X25519 + ML-KEM-768
 * sealing of payloads between agents. Imports only the protocol layer.
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
