export type { Principal, AuthRequest, AuthResult, Authenticator, PeerTls } from './principal.js';
export { peerTlsOf } from './peer-tls.js';
export { accessRequirement, authorize, type AccessRequirement, type AccessDecision } from './authorization.js';
export { parseAuthorization, parseRequestAuthorization, MAX_AUTHORIZATION_LENGTH, type ParsedAuthorization } from './authorization-header.js';
export { hashPassword, verifyPassword } from './password-hash.js';
export { parseUsersFile, createUsersDb, assertValidUserName, type UsersDb } from './users-file.js';
export { readUsersFile, readUsersFileText, addUser, removeUser } from './users-store.js';
export {
  watchUsersFile,
  USERS_RELOAD_DEBOUNCE_MS,
  USERS_RELOAD_POLL_MS,
  type UsersSource,
  type UsersChange,
  type ReloadOutcome,
  type WatchUsersFileOptions,
} from './users-source.js';
export { createBasicAuthenticator, type BasicAuthenticatorOptions } from './basic-authenticator.js';
export {
  createVerifiedCredentials,
  DEFAULT_VERIFIED_CREDENTIALS_MAX_ENTRIES,
  DEFAULT_VERIFIED_CREDENTIALS_TTL_MS,
  type VerifiedCredentials,
  type VerifiedCredentialsOptions,
} from './verified-credentials.js';
export { authenticate } from './authenticate.js';
export { basicCredentials, bearerCredentials, type CredentialProvider } from './credentials.js';
export { bearerChallenge, type BearerChallengeOptions, type BearerErrorCode } from './bearer-challenge.js';
export {
  createJwtAuthenticator,
  JWT_REJECTION_REASONS,
  type JwtAuthenticator,
  type JwtAuthenticatorOptions,
  type JwtClaimsOptions,
  type JwtRejectionReason,
} from './jwt-authenticator.js';
export { DEFAULT_JWT_ALGORITHMS, SigningKeysUnavailableError, type JwtKeyOptions } from './jwt-keys.js';
export {
  createCertificateAuthenticator,
  CERTIFICATE_SCHEME,
  type CertificateAuthenticatorOptions,
  type CertificateIdentitySource,
} from './certificate-authenticator.js';
export { createAttemptLimiter, addressKey, ATTEMPT_LIMITER_DEFAULTS, type AttemptLimiter, type AttemptLimiterOptions } from './attempt-limiter.js';
export { createLimitedAuthenticator, basicAttempt, credentialsAttempt, type LimitedAuthenticatorOptions } from './limited-authenticator.js';
export {
  oauth2ClientCredentials,
  type OAuth2ClientCredentials,
  type OAuth2ClientCredentialsOptions,
  type ClientAuthMethod,
} from './oauth2-client-credentials.js';
