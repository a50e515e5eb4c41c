export { createService, type FarolService } from './service.js';
export { stopOnSignals, reloadOnSignal } from './signals.js';
export {
  resolveServiceOptions,
  DEFAULT_PORT,
  DEFAULT_BIND,
  DEFAULT_LOG_FILE,
  DEFAULT_DRAIN_DELAY_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  MAX_DRAIN_DELAY_MS,
  MAX_DRAIN_TIMEOUT_MS,
  DEFAULT_KEEP_REGISTERED_INTERVAL_MS,
  type ServiceOptions,
  type ResolvedServiceOptions,
  type TlsFiles,
  type ServiceTlsOptions,
  type HealthCheckKind,
  type JwtOptions,
  type ClientCertificateOptions,
  resolveAuthOptions,
  resolveRegistrationOptions,
  type AuthOptions,
  type RegistrationOptions,
} from './options.js';
export type { FarolApp, InstanceView, RouteAuth } from './app.js';
export { buildRegistration, newInstanceId, checkIdFor, heartbeatIntervalMs, isUnknownCheck, type RegistrationInput } from './registration.js';
export { checkServerName, planHealthCheck, type CheckServerName, type HealthCheckPlan } from './check-server-name.js';
export { startHealthListener, healthAnswer, HEALTH_PATH, type HealthListener, type HealthListenerOptions, type KeyPairFeed } from './health-listener.js';
export { farolPlugin, type FarolPluginOptions, type FarolDecoration } from './plugin.js';
export {
  createRequestAuth,
  requestAuthOver,
  sendAuthFailure,
  unauthorizedAnswer,
  forbiddenAnswer,
  limitedAnswer,
  pathOf,
  type RequestAuth,
  type RequestAuthOutcome,
  type AuthFailure,
  type AuthFailureStatus,
  type AuthenticateRequestOptions,
  type RequestAuthIdentity,
  type RequestEventFacts,
} from './request-auth.js';
export { createRegistration, closeHttpServer, type ServiceRegistration, type ListeningAt, type ServiceWarningKind } from './lifecycle.js';
export { farolHttpsOptions, followTlsProvider, type FarolHttpsOptions } from './server-tls.js';
