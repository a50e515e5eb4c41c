import { collectDefaultMetrics, Counter, Gauge, Histogram, register as defaultRegistry, Registry } from 'prom-client';
import { FarolError } from '../errors.js';
import { DeferredCounter } from './deferred-counter.js';

/**
 * OpenTelemetry's advised bucket boundaries for http.server.request.duration and
 * http.client.request.duration, in seconds (HTTP semantic conventions, metrics).
 */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] as const;

/** The methods the HTTP semantic conventions name; any other becomes `_OTHER` (bounded label). */
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY']);

export function methodLabel(method: string): string {
  if (KNOWN_METHODS.has(method)) return method;
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

/** The route label of a request that matched no route: never the raw path (unbounded). */
export const UNMATCHED_ROUTE = '_unmatched';

/** A status code as a label: a 3-digit code, anything else `_OTHER`. */
export function statusLabel(status: number | undefined): string {
  if (status === undefined) return '';
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : '_OTHER';
}

export const REGISTRATION_STATES = ['unregistered', 'registered', 'maintenance', 'deregistered'] as const;
export type RegistrationStateLabel = (typeof REGISTRATION_STATES)[number];
export const INSTANCE_STATES = ['passing', 'ejected', 'resting'] as const;

/** Every instrument Farol registers; one set per registry, shared by the services and clients that use it. */
export interface FarolInstruments {
  readonly registry: Registry;
  serverDuration: Histogram<'http_request_method' | 'http_route' | 'http_response_status_code'>;
  serverActive: Gauge<'http_request_method'>;
  authOutcomes: Counter<'scheme' | 'outcome' | 'reason'>;
  loginLimited: Counter<'reason'>;
  registrationState: Gauge<'state'>;
  draining: Gauge;
  certificateNotAfter: Gauge<'certificate'>;
  buildInfo: Gauge<'version' | 'nodejs_version'>;
  clientDuration: Histogram<'service' | 'http_request_method' | 'http_response_status_code' | 'error_type' | 'farol_instance_id'>;
  clientTries: Counter<'service'>;
  clientRetries: Counter<'service' | 'reason'>;
  retryBudgetRefusals: Counter<'service'>;
  ejections: Counter<'service'>;
  ejectionsActive: Gauge<'service'>;
  panic: Gauge<'service'>;
  instances: Gauge<'service' | 'state'>;
  discoveryStaleness: Gauge<'service'>;
  watchErrors: Counter<'service'>;
  openConnections: Gauge<'service'>;
  /** The hot-path counters, counted in Maps and added when collected (see DeferredCounter). */
  authOutcomesDeferred: DeferredCounter<'scheme' | 'outcome' | 'reason'>;
  clientTriesDeferred: DeferredCounter<'service'>;
  /** Requests in flight by method label, for every service host on this registry; serverActive shows it when collected. */
  serverInFlight: Map<string, number>;
}

const instrumentsByRegistry = new WeakMap<Registry, FarolInstruments>();

/** `metrics: true` is prom-client's default registry (what most apps already expose); a Registry is used as given. */
export function resolveRegistry(option: boolean | Registry | undefined): Registry | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return defaultRegistry;
  if (option instanceof Registry || isRegistryLike(option)) return option;
  throw new FarolError('CONFIG_INVALID', 'the metrics option must be true, false or a prom-client Registry', {
    hint: "pass metrics: true (prom-client's default registry) or metrics: new Registry()",
  });
}

// Two copies of prom-client in one app make `instanceof` fail for a perfectly good registry.
function isRegistryLike(value: unknown): value is Registry {
  const candidate = value as Partial<Registry> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.registerMetric === 'function' && typeof candidate.metrics === 'function' && typeof candidate.getSingleMetric === 'function';
}

/**
 * The instruments of `registry`, created on first use together with Node's default process
 * metrics and farol_build_info; later calls (another service or client on the same registry)
 * get the same ones.
 */
export function instrumentsFor(registry: Registry, version: string): FarolInstruments {
  const existing = instrumentsByRegistry.get(registry);
  if (existing) return existing;
  try {
    return createInstruments(registry, version);
  } catch (error) {
    // prom-client refuses a second metric of the same name (another library's, say).
    throw new FarolError('CONFIG_INVALID', `cannot add Farol's metrics to this registry: ${(error as Error).message}`, {
      hint: 'give Farol a registry of its own (metrics: new Registry()) and merge registries with Registry.merge() when serving them',
      cause: error,
    });
  }
}

function createInstruments(registry: Registry, version: string): FarolInstruments {
  const registers = [registry];
  const created = {
    registry,
    serverDuration: new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP server requests (OpenTelemetry http.server.request.duration).',
      labelNames: ['http_request_method', 'http_route', 'http_response_status_code'],
      buckets: [...HTTP_DURATION_BUCKETS],
      registers,
    }),
    serverActive: new Gauge({
      name: 'http_server_active_requests',
      help: 'Requests in flight on this service host (OpenTelemetry http.server.active_requests).',
      labelNames: ['http_request_method'],
      registers,
    }),
    authOutcomes: new Counter({
      name: 'farol_auth_outcomes_total',
      help: 'Authentication outcomes on the service host, by scheme (basic, bearer, certificate, none, other), outcome and reason.',
      labelNames: ['scheme', 'outcome', 'reason'],
      registers,
    }),
    loginLimited: new Counter({
      name: 'farol_login_limiter_refusals_total',
      help: 'Logins refused (429) because the login limiter holds a lock on the address or user name, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    registrationState: new Gauge({
      name: 'farol_registration_state',
      help: `Registration in Consul: 1 for the current state (${REGISTRATION_STATES.join(', ')}), 0 for the others.`,
      labelNames: ['state'],
      registers,
    }),
    draining: new Gauge({ name: 'farol_service_draining', help: '1 once the service host has begun draining, else 0.', registers }),
    certificateNotAfter: new Gauge({
      name: 'farol_certificate_not_after_timestamp_seconds',
      help: 'When the certificate in use expires (Unix seconds), by certificate (server, client).',
      labelNames: ['certificate'],
      registers,
    }),
    buildInfo: new Gauge({ name: 'farol_build_info', help: 'Always 1; the Farol and Node.js versions as labels.', labelNames: ['version', 'nodejs_version'], registers }),
    clientDuration: new Histogram({
      name: 'http_client_request_duration_seconds',
      help: 'Duration of each HTTP request (try) the Farol client sends (OpenTelemetry http.client.request.duration).',
      labelNames: ['service', 'http_request_method', 'http_response_status_code', 'error_type', 'farol_instance_id'],
      buckets: [...HTTP_DURATION_BUCKETS],
      registers,
    }),
    clientTries: new Counter({ name: 'farol_client_tries_total', help: 'Tries sent by the client, first tries and retries.', labelNames: ['service'], registers }),
    clientRetries: new Counter({
      name: 'farol_client_retries_total',
      help: 'Retries on another instance, by the reason of the try before (a status or an error code).',
      labelNames: ['service', 'reason'],
      registers,
    }),
    retryBudgetRefusals: new Counter({
      name: 'farol_client_retry_budget_refusals_total',
      help: 'Retries refused because the retry budget was spent.',
      labelNames: ['service'],
      registers,
    }),
    ejections: new Counter({ name: 'farol_client_outlier_ejections_total', help: 'Instances ejected after consecutive failures.', labelNames: ['service'], registers }),
    ejectionsActive: new Gauge({ name: 'farol_client_outlier_ejections_active', help: 'Instances ejected right now.', labelNames: ['service'], registers }),
    panic: new Gauge({
      name: 'farol_client_panic_mode',
      help: '1 while too many instances are ejected and the client balances over all passing ones, else 0.',
      labelNames: ['service'],
      registers,
    }),
    instances: new Gauge({
      name: 'farol_client_instances',
      help: 'Instances the client knows, by state: passing (served by discovery), ejected, resting (after 503 + Retry-After).',
      labelNames: ['service', 'state'],
      registers,
    }),
    discoveryStaleness: new Gauge({
      name: 'farol_client_discovery_staleness_seconds',
      help: 'Seconds since discovery last heard from Consul about the service (0 while the watch is current).',
      labelNames: ['service'],
      registers,
    }),
    watchErrors: new Counter({ name: 'farol_client_discovery_watch_errors_total', help: 'Failed blocking queries of the discovery watch.', labelNames: ['service'], registers }),
    openConnections: new Gauge({ name: 'farol_client_open_connections', help: 'TLS connections open to instances of the service.', labelNames: ['service'], registers }),
  };
  const instruments: FarolInstruments = {
    ...created,
    authOutcomesDeferred: new DeferredCounter(created.authOutcomes, ['scheme', 'outcome', 'reason']),
    clientTriesDeferred: new DeferredCounter(created.clientTries, ['service']),
    serverInFlight: new Map(),
  };
  // In flight is counted in a Map by the subscribers (a gauge's inc/dec with labels hashes them twice a request).
  (created.serverActive as { collect?: () => void }).collect = () => {
    for (const [method, count] of instruments.serverInFlight) created.serverActive.set({ http_request_method: method }, count);
  };
  instruments.buildInfo.set({ version, nodejs_version: process.version }, 1);
  for (const state of REGISTRATION_STATES) instruments.registrationState.set({ state }, 0);
  instruments.draining.set(0);
  if (registry.getSingleMetric('process_cpu_user_seconds_total') === undefined) collectDefaultMetrics({ register: registry });
  instrumentsByRegistry.set(registry, instruments);
  return instruments;
}
