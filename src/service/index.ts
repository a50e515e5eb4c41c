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
} from './options.js';
export type { FarolApp, InstanceView, RouteAuth } from './app.js';
export { buildRegistration, newInstanceId, checkIdFor, heartbeatIntervalMs, isUnknownCheck, type RegistrationInput } from './registration.js';
export { checkServerName, planHealthCheck, type CheckServerName, type HealthCheckPlan } from './check-server-name.js';
export { startHealthListener, healthAnswer, HEALTH_PATH, type HealthListener, type HealthListenerOptions, type KeyPairFeed } from './health-listener.js';
