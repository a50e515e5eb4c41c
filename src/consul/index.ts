export { ConsulClient } from './client.js';
export type { ConsulClientOptions, ConsulTlsOptions } from './options.js';
export { consulOptionsFromEnv } from './env.js';
export type { AgentApi } from './agent.js';
export type { HealthApi, HealthServiceOptions } from './health.js';
export type { CatalogApi } from './catalog.js';
export type { StatusApi } from './status.js';
export { watchHealthService, DEFAULT_WATCH_RATE_LIMIT } from './watch.js';
export type { HealthServiceWatch, WatchHealthServiceOptions } from './watch.js';
export { watchServiceChanges } from './watch-catalog.js';
export { afterPendingIo } from './next-turn.js';
export type { ServiceChangesWatch, WatchServiceChangesOptions } from './watch-catalog.js';
export { changedServices, checksSnapshot } from './watch-changes.js';
export type { ChecksSnapshot } from './watch-changes.js';
export { ConsulStatusError, isConsulStatusError, isUnknownCheckError, isUnknownServiceError, parseConsulErrorBody } from './status-error.js';
export type { ConsulErrorReason, ConsulRequestFacts } from './status-error.js';
export { hiddenByAclError, readPolicyFor } from './acl-hidden.js';
export { DEFAULT_DISCOVERY_CONSISTENCY, stalenessOf, tooStaleError } from './staleness.js';
export { validateConsistency } from './query.js';
export type { Staleness } from './staleness.js';
export { parseConsulAddress, DEFAULT_CONSUL_ADDRESS } from './address.js';
export type { ConsulEndpoint } from './address.js';
export { backoffDelay, backoffCeiling } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { nextBlockingIndex, sanitizeIndex } from './blocking-index.js';
export type { BlockingIndexStep } from './blocking-index.js';
export type {
  AgentCheck,
  AgentService,
  AgentServiceCheck,
  AgentServiceRegistration,
  AgentWeights,
  CatalogService,
  CheckUpdateStatus,
  ConsistencyMode,
  HealthCheck,
  HealthCheckDefinition,
  HealthStatus,
  Node,
  QueryMeta,
  QueryOptions,
  ServiceAddress,
  ServiceEntry,
} from './types.js';
