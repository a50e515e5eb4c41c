// The public API of the farol package: what the CLI is built on, and what services embed.
export { FarolError, ErrorCodes, isFarolError, type ErrorCode } from './errors.js';
export { createLogger, silentLogger, reopenLogFiles, reopenLogFilesOnSignal, type Logger, type LoggerOptions } from './log/logger.js';

export {
  createService,
  stopOnSignals,
  reloadOnSignal,
  type FarolService,
  type ServiceOptions,
  type FarolApp,
  type HealthCheckKind,
  type JwtOptions,
  type ClientCertificateOptions,
  type RouteAuth,
} from './service/index.js';

export {
  createClient,
  type ClientOptions,
  type ClientCertificate,
  type CallOptions,
  type CallResult,
  type FarolClient,
  type Instance,
  type BalancerKind,
} from './client/index.js';

export {
  createBasicAuthenticator,
  readUsersFile,
  watchUsersFile,
  addUser,
  removeUser,
  hashPassword,
  verifyPassword,
  basicCredentials,
  bearerCredentials,
  oauth2ClientCredentials,
  createJwtAuthenticator,
  createCertificateAuthenticator,
  createLimitedAuthenticator,
  createAttemptLimiter,
  authorize,
  type AccessRequirement,
  type OAuth2ClientCredentials,
  type OAuth2ClientCredentialsOptions,
  type JwtAuthenticator,
  type JwtAuthenticatorOptions,
  type CertificateAuthenticatorOptions,
  type AttemptLimiterOptions,
  type PeerTls,
  type Authenticator,
  type AuthRequest,
  type AuthResult,
  type Principal,
  type CredentialProvider,
  type UsersDb,
  type UsersSource,
  type UsersChange,
  type ReloadOutcome,
  type WatchUsersFileOptions,
} from './auth/index.js';

export {
  createCertificateAuthority,
  issueCertificate,
  initCertificates,
  loadServerTls,
  loadCaBundle,
  serverSubjectAltNames,
  clientSubjectAltNames,
  type PemPair,
  type TlsMaterial,
  type InitCertificatesOptions,
  type InitCertificatesResult,
} from './pki/index.js';

export {
  ConsulClient,
  consulOptionsFromEnv,
  watchHealthService,
  type ConsulClientOptions,
  type AgentServiceRegistration,
  type ServiceEntry,
  type QueryMeta,
} from './consul/index.js';
