// The public API of the farol package: what the CLI is built on, and what services embed.
export { FarolError, ErrorCodes, isFarolError, type ErrorCode } from './errors.js';
export { createLogger, silentLogger, reopenLogFiles, reopenLogFilesOnSignal, type Logger, type LoggerOptions } from './log/logger.js';

export {
  createService,
  stopOnSignals,
  reloadOnSignal,
  type FarolService,
  type HealthCheckPlan,
  type ServiceOptions,
  type ServiceTlsOptions,
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
  type ClientTlsOptions,
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
  loadCaSource,
  loadKeyPairSource,
  createServerTlsProvider,
  createClientTlsProvider,
  TLS_POLICY,
  clientTlsPolicy,
  serverSecureContext,
  serverSubjectAltNames,
  clientSubjectAltNames,
  type PemPair,
  type TlsMaterial,
  type CaSource,
  type KeyPairSource,
  type LoadedCa,
  type LoadedKeyPair,
  type TlsProvider,
  type TlsProviderOptions,
  type TlsReloadOutcome,
  type ServerTlsState,
  type ClientTlsState,
  type InitCertificatesOptions,
  type InitCertificatesResult,
  loadCertificateAuthority,
  issueLeaf,
  renewLeaves,
  describeCertificate,
  describeCertificateFile,
  expiryWarning,
  type IssueLeafOptions,
  type IssueLeafResult,
  type RenewLeavesOptions,
  type RenewLeavesResult,
  type CertificateDescription,
  type ExpiryWarning,
} from './pki/index.js';

// The embedded Consul-compatible registry: run it in an app's own tests instead of a Consul agent.
export { startRegistry, DEFAULT_REGISTRY_PORT, type RegistryOptions, type RunningRegistry } from './registry/index.js';

export {
  ConsulClient,
  consulOptionsFromEnv,
  watchHealthService,
  type ConsulClientOptions,
  type AgentServiceRegistration,
  type ServiceEntry,
  type QueryMeta,
} from './consul/index.js';

export { serveMetrics, DEFAULT_METRICS_HOST, METRICS_PATH, type MetricsServer, type ServeMetricsOptions } from './events/serve-metrics.js';
export { HTTP_DURATION_BUCKETS, UNMATCHED_ROUTE } from './events/metric-definitions.js';
export type { MetricsOption } from './events/observe.js';
// Events: every channel and its payload type, and the logger as a subscriber (docs/events.md).
export { channels, subscribe, createEventOwner, CREDENTIAL_HEADERS } from './events/channels.js';
export type { Channel, ChannelKey, EventOf, EventOwner, EventOwnerKind, EventError, InstanceRef } from './events/channels.js';
export { subscribeLogger, type LogSubscriberOptions } from './events/log-subscriber.js';
