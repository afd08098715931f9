/**
 * The Shield's authentication and authorization: EdDSA bearer tokens with NATS-style
 * topic permissions, `did:key` challenge-response, and the per-session permission check.
 * @module
 */
export {
  Authenticator,
  type AuthenticatorOptions,
  type HelloCredentials,
  type HelloOutcome,
  MAX_HELLO_BYTES,
} from "./authenticator.ts";
export {
  type Challenge,
  type ChallengeAnswer,
  ChallengeIssuer,
  type ChallengeOptions,
} from "./did_challenge.ts";
export { DidDirectory } from "./did_directory.ts";
export { forbidden, RateLimitedError, unauthorized } from "./errors.ts";
export {
  CLIENT_IDLE_MS,
  ClientRateTable,
  type ClientRateTableOptions,
} from "./client_rate_table.ts";
export {
  type AuthMethod,
  type Grants,
  OPEN_GRANTS,
  parseGrants,
  type Principal,
  type Role,
  ROLES,
  type TopicRules,
} from "./grants.ts";
export {
  generateNodeKeyJwk,
  importNodeKey,
  type NodeSigningKey,
  readNodeKeyFile,
  readVerificationKeys,
  writeNodeKeyFile,
} from "./node_key.ts";
export { PermissionChecker, type SubscribeDecision } from "./permission_checker.ts";
export { issueToken, MAX_TOKEN_BYTES, type TokenRequest, TokenVerifier } from "./token.ts";
export { type AuditSink, type GovernanceReplicator, NodeAccess } from "./node_access.ts";
export { type Revocation, Revocations } from "./revocations.ts";
export { SECURITY_DEFAULTS, SECURITY_FLAGS, type SecurityOptions } from "./security_options.ts";
export { SessionAccess, type SubscriptionAccess } from "./session_access.ts";
export { realityGuard } from "./reality_guard.ts";
export type { AccessHost } from "./access_host.ts";
