/**
 * The client's options: grouped (tls, credentials, balancer, retry, outlier, discovery), the
 * earlier flat fields mapped onto the groups in one place (`groupOptions`), and everything checked
 * with zod when the client is created, so a bad value is reported by name before the first call.
 */
import { z } from 'zod';
import type { CredentialProvider } from '../auth/index.js';
import { DEFAULT_DISCOVERY_CONSISTENCY, validateConsistency, type ConsistencyMode, type ConsulClient, type ConsulClientOptions } from '../consul/index.js';
import { FarolError } from '../errors.js';
import type { MetricsOption } from '../events/observe.js';
import type { Logger } from '../log/logger.js';
import { isCaSource, isKeyPairSource, loadCaSourceSync, loadKeyPairSourceSync, toCaSource, type CaSource, type KeyPairSource } from '../pki/index.js';
import { MAX_TIMER_DELAY_MS } from '../timers/long-timeout.js';
import { BALANCER_KINDS, createBalancer, DEFAULT_BALANCER, type Balancer, type BalancerKind } from './balancer.js';
import type { OutlierOptions } from './outlier.js';
import type { RetryBudgetOptions } from './retry-budget.js';
import type { ServedSetOptions } from './served-set.js';

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_RETRIES = 2;
export const DEFAULT_CONNECTIONS_PER_INSTANCE = 32;
/** Host names the dispatcher maps to a service: `<service>.service.consul`. */
export const DEFAULT_SERVICE_HOST_SUFFIX = '.service.consul';

/** What a balancer factory is given: the service whose instances it will balance over. */
export interface BalancerContext {
  service: string;
}
export type BalancerFactory = (ctx: BalancerContext) => Balancer;

export interface ClientTlsOptions {
  /** The CA(s) that sign service certificates; verification is always on. */
  ca: CaSource;
  /** Presented to instances that require mutual TLS (farol certs issue --client <name>). */
  clientCertificate?: KeyPairSource;
  /** TLS name to verify; '{service}' is replaced by the service name. Default: the instance's registered address. */
  serverName?: string;
}

export interface ClientRetryOptions {
  /** Further tries after the first, each on another instance, 0 to 10. Default 2. */
  retries?: number;
  /** Statuses retried (idempotent methods only). Default: 5xx except 501 and 505. */
  retryOn?: readonly number[];
  /**
   * Also retry POST, PATCH... after a failure that may have reached the instance. Default false:
   * such requests are retried only when they certainly were not sent (connection refused...).
   */
  nonIdempotent?: boolean;
  /** Caps retries to a share of the traffic, so retries cannot amplify an outage. */
  budget?: Partial<Omit<RetryBudgetOptions, 'now'>>;
  /** Per try, until the response headers (then between body chunks), ms. Default 10000. */
  timeoutMs?: number;
  /** For the whole call until the response starts, retries included, ms. Default timeoutMs × (retries + 1). */
  deadlineMs?: number;
}

export interface ClientDiscoveryOptions {
  /** How long the last known instances serve while Consul is unreachable (see ServedSet). */
  freshness?: Partial<ServedSetOptions>;
  /**
   * Consul's read mode for the watches. Default 'stale': any server answers, so discovery keeps
   * refreshing through leader elections and quorum loss (docs/consul.md says why).
   */
  consistency?: ConsistencyMode;
  /** With consistency 'stale': an answer from a server out of touch with the leader for longer counts as failed. */
  maxStaleMs?: number;
  /**
   * Bounds on the watches, for clients calling many services. `maxConnections` (default 64, at
   * least 3): most connections the watches hold to the agent (Consul allows 200 per client IP);
   * past what it allows, services share one change detector. `idleReleaseMs` (default 300000, 0 for never): a
   * service not called for this long stops being watched; the next call watches it again.
   */
  watches?: { maxConnections?: number; idleReleaseMs?: number };
}

export interface ClientOptions {
  /** A client to share (not closed by this one), or options for a new one; default: Consul's environment variables. */
  consul?: ConsulClient | ConsulClientOptions;
  /**
   * `ca`: the CA(s) that sign service certificates (verification is always on). `clientCertificate`:
   * what to present to instances that require mutual TLS. Files are read again when they change:
   * new connections use the new material, open ones finish their requests and close.
   */
  tls?: ClientTlsOptions;
  credentials?: CredentialProvider;
  /** A balancer kind (default 'peak-ewma'), or a factory called once per service. */
  balancer?: BalancerKind | BalancerFactory;
  retry?: ClientRetryOptions;
  /** Ejection of instances that keep failing. */
  outlier?: Partial<Omit<OutlierOptions, 'now'>>;
  discovery?: ClientDiscoveryOptions;
  /** Most connections open to one instance at once. Default 32. */
  connectionsPerInstance?: number;
  /**
   * Which request hosts the dispatcher maps to a service: a suffix (default '.service.consul', so
   * orders.service.consul is the service 'orders'), or a function returning the service name or
   * undefined for a host that is not a service.
   */
  hosts?: string | ((host: string) => string | undefined);
  /**
   * What the dispatcher does with a host that is not a service: 'pass' (default) sends it through
   * a plain undici Agent, with TLS verified as usual; 'refuse' fails it with NOT_A_SERVICE.
   */
  otherHosts?: 'pass' | 'refuse';
  /**
   * Where the client's lines go: a logger, or a file of JSON lines ('-': stdout). Neither: no log
   * is written (the events can still be subscribed to, see src/events).
   */
  logFile?: string;
  logger?: Logger;
  /** Prometheus metrics of this client's calls: true (prom-client's default registry) or a Registry. Default off. */
  metrics?: MetricsOption;
  /** OpenTelemetry spans (call, tries) and traceparent on each try; default true, free until an SDK is registered. */
  tracing?: boolean;

  /** @deprecated use tls.ca: PEM text, or { caFile } (= tls.ca { file }). */
  ca?: string | { caFile: string };
  /** @deprecated use tls.clientCertificate ({ certPem, keyPem } or { certFile, keyFile }). */
  clientCertificate?: ClientCertificate;
  /** @deprecated use tls.serverName. */
  serverName?: string;
  /** @deprecated use retry.timeoutMs. */
  timeoutMs?: number;
  /** @deprecated use retry.deadlineMs. */
  deadlineMs?: number;
  /** @deprecated use retry.retries. */
  retries?: number;
  /** @deprecated use retry.retryOn. */
  retryOn?: readonly number[];
  /** @deprecated use retry.nonIdempotent. */
  retryNonIdempotent?: boolean;
  /** @deprecated use retry.budget. */
  retryBudget?: Partial<Omit<RetryBudgetOptions, 'now'>>;
  /** @deprecated use discovery.freshness. */
  freshness?: Partial<ServedSetOptions>;
}

/** @deprecated the earlier shape of a client certificate; see KeyPairSource. */
export type ClientCertificate = { cert: string; key: string } | { certFile: string; keyFile: string };

/** The options as the stages use them: grouped, defaulted, checked, files read once. */
export interface ResolvedClientOptions {
  tls: { ca: CaSource; clientCertificate?: KeyPairSource };
  serverName: string | undefined;
  balancer: BalancerFactory;
  retry: Required<Omit<ClientRetryOptions, 'retryOn' | 'budget'>> & { retryOn: readonly number[] | undefined; budget: Partial<Omit<RetryBudgetOptions, 'now'>> | undefined };
  outlier: Partial<Omit<OutlierOptions, 'now'>> | undefined;
  freshness: Partial<ServedSetOptions> | undefined;
  consistency: { consistency?: ConsistencyMode; maxStaleMs?: number };
  watches: { maxConnections?: number; idleReleaseMs?: number };
  connectionsPerInstance: number;
  serviceOfHost: (host: string) => string | undefined;
  otherHosts: 'pass' | 'refuse';
}

const DEPRECATED_RETRY = { timeoutMs: 'timeoutMs', deadlineMs: 'deadlineMs', retries: 'retries', retryOn: 'retryOn', retryNonIdempotent: 'nonIdempotent', retryBudget: 'budget' } as const;

/**
 * The earlier flat options mapped onto their groups (the one place that knows both shapes). Giving
 * a flat option and its grouped twin is a CONFIG_INVALID: which one wins would be a guess.
 */
export function groupOptions(opts: ClientOptions): ClientOptions {
  const grouped: ClientOptions = { ...opts, retry: { ...opts.retry }, discovery: { ...opts.discovery } };
  const both = (flat: string, group: string): FarolError =>
    new FarolError('CONFIG_INVALID', `give ${group}, or the older ${flat} option, not both`, { hint: `pass only ${group}` });
  for (const [flat, name] of Object.entries(DEPRECATED_RETRY) as [keyof typeof DEPRECATED_RETRY, keyof ClientRetryOptions][]) {
    if (opts[flat] === undefined) continue;
    if (opts.retry?.[name] !== undefined) throw both(flat, `retry.${name}`);
    (grouped.retry as Record<string, unknown>)[name] = opts[flat];
    delete grouped[flat];
  }
  if (opts.freshness !== undefined) {
    if (opts.discovery?.freshness !== undefined) throw both('freshness', 'discovery.freshness');
    grouped.discovery!.freshness = opts.freshness;
    delete grouped.freshness;
  }
  if (opts.ca !== undefined || opts.clientCertificate !== undefined) {
    if (opts.tls !== undefined) {
      throw new FarolError('CONFIG_INVALID', 'give tls, or the older ca and clientCertificate options, not both', {
        hint: 'pass tls: { ca: { file: "certs/ca.pem" } } (or { pem: "-----BEGIN CERTIFICATE-----..." })',
      });
    }
    if (typeof opts.ca === 'string' && !opts.ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new FarolError('CONFIG_INVALID', 'the ca option is not a PEM certificate', { hint: 'pass the PEM text of the CA, or { caFile: "certs/ca.pem" }' });
    }
    const given = opts.clientCertificate;
    grouped.tls = {
      ...(opts.ca === undefined ? {} : { ca: toCaSource(opts.ca) }),
      ...(given === undefined ? {} : { clientCertificate: 'cert' in given ? { certPem: given.cert, keyPem: given.key } : given }),
    } as ClientTlsOptions;
    delete grouped.ca;
    delete grouped.clientCertificate;
  }
  if (opts.serverName !== undefined) {
    if (opts.tls?.serverName !== undefined) throw both('serverName', 'tls.serverName');
    grouped.tls = { ...grouped.tls, serverName: opts.serverName } as ClientTlsOptions;
    delete grouped.serverName;
  }
  return grouped;
}

const TIMER_MAX = `must be at most ${MAX_TIMER_DELAY_MS} (24.8 days)`;
const timerMs = z.number({ error: 'must be a number of milliseconds' }).refine((v) => Number.isFinite(v) && v > 0, 'must be a positive number').refine((v) => v <= MAX_TIMER_DELAY_MS, TIMER_MAX);
const shareOf = z.number().finite().min(0);

const schema = z.object({
  retry: z.strictObject({
    retries: z.number().int('must be a whole number from 0 to 10').min(0, 'must be a whole number from 0 to 10').max(10, 'must be a whole number from 0 to 10').optional(),
    retryOn: z.array(z.number().int().min(100).max(599)).optional(),
    nonIdempotent: z.boolean().optional(),
    budget: z.strictObject({ percentCanRetry: shareOf.optional(), minRetriesPerSec: shareOf.optional(), ttlMs: timerMs.optional() }).optional(),
    timeoutMs: timerMs.optional(),
    deadlineMs: timerMs.optional(),
  }),
  outlier: z
    .strictObject({
      consecutiveFailures: z.number().int().min(1).optional(),
      baseEjectionMs: timerMs.optional(),
      maxEjectionMs: timerMs.optional(),
      maxEjectionPercent: z.number().min(0).max(100).optional(),
      panicThresholdPercent: z.number().min(0).max(100).optional(),
    })
    .optional(),
  discovery: z.strictObject({
    freshness: z.strictObject({ maxStalenessMs: timerMs.optional(), emptyAfterOutageGraceMs: z.number().finite().min(0).max(MAX_TIMER_DELAY_MS).optional() }).optional(),
    consistency: z.enum(['default', 'stale', 'consistent']).optional(),
    maxStaleMs: timerMs.optional(),
    watches: z.strictObject({
      maxConnections: z.number().int('must be a whole number').min(3, 'must be at least 3 (the shared change detector holds two, and reads need one)').max(10_000).optional(),
      idleReleaseMs: z.union([timerMs, z.literal(0)]).optional(),
    }).optional(),
  }),
  connectionsPerInstance: z.number().int('must be a whole number').positive('must be a positive number').max(10_000).optional(),
  hosts: z.union([z.string().min(1), z.custom<(host: string) => string | undefined>((v) => typeof v === 'function')]).optional(),
  otherHosts: z.enum(['pass', 'refuse']).optional(),
  balancer: z
    .union([z.enum(BALANCER_KINDS as [BalancerKind, ...BalancerKind[]]), z.custom<BalancerFactory>((v) => typeof v === 'function')], {
      error: `must be one of ${BALANCER_KINDS.join(', ')}, or a function (ctx) => Balancer`,
    })
    .optional(),
});

/** Validates and resolves the options; throws a FarolError (CONFIG_INVALID, CERT_MISSING...) naming the bad one. */
export function resolveClientOptions(given: ClientOptions): ResolvedClientOptions {
  const opts = groupOptions(given);
  const parsed = schema.safeParse(opts);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = issue.path.join('.');
    const value = issue.path.reduce<unknown>((at, key) => (at as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey], opts);
    throw new FarolError('CONFIG_INVALID', `${name} ${issue.message}, got ${describe(value)}`, { hint: hintFor(name) });
  }
  const retries = opts.retry?.retries ?? DEFAULT_RETRIES;
  const timeoutMs = opts.retry?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadlineMs = opts.retry?.deadlineMs ?? Math.min(timeoutMs * (retries + 1), MAX_TIMER_DELAY_MS);
  const balancer = opts.balancer ?? DEFAULT_BALANCER;
  return {
    tls: checkedTls(opts.tls),
    serverName: opts.tls?.serverName,
    balancer: typeof balancer === 'function' ? balancer : () => createBalancer(balancer),
    retry: { retries, timeoutMs, deadlineMs, retryOn: opts.retry?.retryOn, nonIdempotent: opts.retry?.nonIdempotent ?? false, budget: opts.retry?.budget },
    outlier: opts.outlier,
    freshness: opts.discovery?.freshness,
    consistency: checkedConsistency(opts.discovery),
    watches: { ...opts.discovery?.watches },
    connectionsPerInstance: opts.connectionsPerInstance ?? DEFAULT_CONNECTIONS_PER_INSTANCE,
    serviceOfHost: serviceOfHost(opts.hosts ?? DEFAULT_SERVICE_HOST_SUFFIX),
    otherHosts: opts.otherHosts ?? 'pass',
  };
}

/** Consul's own check of the pair (maxStaleMs only with 'stale'), named as the client's options. */
function checkedConsistency(discovery: ClientDiscoveryOptions | undefined): { consistency?: ConsistencyMode; maxStaleMs?: number } {
  const { consistency, maxStaleMs } = discovery ?? {};
  validateConsistency({ consistency: consistency ?? DEFAULT_DISCOVERY_CONSISTENCY, maxStaleMs }, 'discovery.consistency');
  return { ...(consistency === undefined ? {} : { consistency }), ...(maxStaleMs === undefined ? {} : { maxStaleMs }) };
}

/** The service a host names under a suffix ('orders.service.consul' → 'orders'), or the given function. */
export function serviceOfHost(hosts: string | ((host: string) => string | undefined)): (host: string) => string | undefined {
  if (typeof hosts === 'function') return hosts;
  const suffix = (hosts.startsWith('.') ? hosts : `.${hosts}`).toLowerCase();
  return (host) => {
    const name = host.toLowerCase().replace(/\.$/, '');
    if (!name.endsWith(suffix)) return undefined;
    const service = name.slice(0, -suffix.length);
    return service === '' || service.includes('.') ? undefined : service;
  };
}

/**
 * The TLS sources, read and checked now, so a missing file or a bad certificate surfaces at
 * creation; the TLS provider reads them again at the first call and whenever they change.
 */
function checkedTls(tls: ClientTlsOptions | undefined): ResolvedClientOptions['tls'] {
  const hint = 'pass tls: { ca: { file: "certs/ca.pem" } } (or { pem: "-----BEGIN CERTIFICATE-----..." })';
  const ca = tls?.ca;
  if (ca === undefined) throw new FarolError('CONFIG_INVALID', 'no CA to verify services against: the tls.ca option is missing', { hint });
  if (!isCaSource(ca)) throw new FarolError('CONFIG_INVALID', 'the tls.ca option must be { pem } or { file }', { hint });
  loadCaSourceSync(ca);
  const clientCertificate = tls?.clientCertificate;
  if (clientCertificate === undefined) return { ca };
  if (!isKeyPairSource(clientCertificate)) {
    throw new FarolError('CONFIG_INVALID', 'the tls.clientCertificate option must be { certPem, keyPem } or { certFile, keyFile }', {
      hint: 'farol certs issue --dir <CA dir> --client <name> writes client-<name>.pem and client-<name>-key.pem',
    });
  }
  loadKeyPairSourceSync(clientCertificate);
  return { ca, clientCertificate };
}

function hintFor(name: string): string {
  if (name.endsWith('timeoutMs')) return 'pass a timeout such as retry: { timeoutMs: 10000 } (10 s)';
  if (name.endsWith('deadlineMs')) return 'pass a deadline such as retry: { deadlineMs: 30000 } (30 s)';
  if (name.endsWith('retries')) return 'pass retry: { retries: 2 } (up to two more instances are tried)';
  if (name === 'balancer') return `pass balancer: '${DEFAULT_BALANCER}', or a function (ctx) => Balancer`;
  if (name === 'connectionsPerInstance') return 'pass e.g. connectionsPerInstance: 32';
  return `see the ${name.split('.')[0]} option in docs/client.md`;
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
