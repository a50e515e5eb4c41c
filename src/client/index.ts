export { createClient, DEFAULT_CLIENT_LOG_FILE, DEFAULT_TIMEOUT_MS, DEFAULT_RETRIES, DEFAULT_CONNECTIONS_PER_INSTANCE } from './client.js';
export { repeatCalls } from './repeat.js';
export type { RepeatOptions } from './repeat.js';
export { summarize, formatReport, percentile } from './load-report.js';
export type { CallSample, LoadReport } from './load-report.js';
export { ServedSet, DEFAULT_SERVED_SET_OPTIONS } from './served-set.js';
export type { ServedSetOptions } from './served-set.js';
export type { ClientOptions, ClientCertificate, ClientTlsOptions, CallOptions, CallResult, FarolClient } from './client.js';
export { resolveClientOptions, groupOptions, serviceOfHost, DEFAULT_SERVICE_HOST_SUFFIX } from './options.js';
export type { BalancerContext, BalancerFactory, ClientRetryOptions, ClientDiscoveryOptions, ResolvedClientOptions } from './options.js';
export { decideRetry, isRetryableOutcome } from './retry-decision.js';
export type { RetryDecision, RetryFacts, StopReason, TryOutcome } from './retry-decision.js';
export { instancesFromEntries, instanceOrigin, hostPort } from './instance.js';
export type { Instance, InstanceSource } from './instance.js';
export {
  createBalancer,
  roundRobinBalancer,
  randomBalancer,
  leastRequestBalancer,
  peakEwmaBalancer,
  nextPeakEwma,
  instanceWeight,
  isBalancerKind,
  BALANCER_KINDS,
  DEFAULT_BALANCER,
  DEFAULT_PEAK_EWMA,
  MAX_WEIGHT,
} from './balancer.js';
export type { Balancer, BalancerKind, BalancerOptions, FinishRequest, RandomSource, RequestOutcome } from './balancer.js';
export { RetryBudget, DEFAULT_RETRY_BUDGET } from './retry-budget.js';
export type { RetryBudgetOptions } from './retry-budget.js';
export {
  isIdempotentMethod,
  isRetryableStatus,
  parseRetryAfter,
  parseHttpDate,
  retryDelayMs,
  IDEMPOTENT_METHODS,
  DEFAULT_RETRY_AFTER_MAX_MS,
  DEFAULT_RETRY_DELAY,
} from './retry-policy.js';
export type { RetryAfterOptions, RetryDelayOptions } from './retry-policy.js';
export { OutlierDetector, DEFAULT_OUTLIER } from './outlier.js';
export type { OutlierOptions, EjectionEvent, AvailableInstances } from './outlier.js';
export { createDiscovery } from './discovery.js';
export type { Discovery, DiscoveryOptions } from './discovery.js';
export { InstancePools, serverNameFor } from './pools.js';
export type { InstancePoolsOptions, PoolTarget } from './pools.js';
export { requestFailureToFarolError } from './tls-errors.js';
export type { RequestFailureContext } from './tls-errors.js';
