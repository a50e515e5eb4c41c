import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CredentialProvider } from '../auth/index.js';
import { ConsulClient, consulOptionsFromEnv, type ConsulClientOptions } from '../consul/index.js';
import { FarolError } from '../errors.js';
import { randomBytes } from 'node:crypto';
import { channels, createEventOwner, CREDENTIAL_HEADERS, type EventOwner, type InstanceRef } from '../events/channels.js';
import { checkMetricsOption, observeClient, type MetricsOption } from '../events/observe.js';
import { subscribeLogger } from '../events/log-subscriber.js';
import { createLogger, type Logger } from '../log/logger.js';
import { MAX_TIMER_DELAY_MS } from '../timers/long-timeout.js';
import { createClientTlsProvider, isCaSource, isKeyPairSource, loadCaSourceSync, loadKeyPairSourceSync, toCaSource, type CaSource, type ClientTlsState, type KeyPairSource, type TlsProvider } from '../pki/index.js';
import { createBalancer, DEFAULT_BALANCER, type Balancer, type BalancerKind } from './balancer.js';
import { createDiscovery } from './discovery.js';
import type { ServedSetOptions } from './served-set.js';
import { hostPort, type Instance } from './instance.js';
import { OutlierDetector, type OutlierOptions } from './outlier.js';
import { exchange, InstancePools, serverNameFor, TryTimedOut, type PoolTarget } from './pools.js';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';
import { isIdempotentMethod, isRetryableStatus, parseRetryAfter, retryDelayMs } from './retry-policy.js';
import { errorCode, requestFailureToFarolError } from './tls-errors.js';

/** The log file of `farol call` (the original project's); the library itself writes none by default. */
export const DEFAULT_CLIENT_LOG_FILE = 'logs/client-log.txt';
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_RETRIES = 2;
export const DEFAULT_CONNECTIONS_PER_INSTANCE = 32;

export interface ClientOptions {
  /** A client to share (not closed by this one), or options for a new one; default: Consul's environment variables. */
  consul?: ConsulClient | ConsulClientOptions;
  /**
   * `ca`: the CA(s) that sign service certificates (verification is always on). `clientCertificate`:
   * what to present to instances that require mutual TLS (e.g. certs/client-<name>.pem and its key
   * from `farol certs init --client <name>`). Files are read again when they change: new
   * connections use the new material, open ones finish their requests and close.
   */
  tls?: ClientTlsOptions;
  /** @deprecated use tls.ca: PEM text, or { caFile } (= tls.ca { file }). */
  ca?: string | { caFile: string };
  credentials?: CredentialProvider;
  /** @deprecated use tls.clientCertificate ({ certPem, keyPem } or { certFile, keyFile }). */
  clientCertificate?: ClientCertificate;
  /** TLS name to verify; '{service}' is replaced by the service name. Default: the instance's registered address. */
  serverName?: string;
  /** Default 'peak-ewma'. */
  balancer?: BalancerKind;
  /** Per try, default 10000. */
  timeoutMs?: number;
  /** For the whole call, retries included. Default: timeoutMs × (retries + 1). */
  deadlineMs?: number;
  /** Further tries after the first, each on another instance. Default 2. */
  retries?: number;
  /** Statuses retried (idempotent methods only). Default: 5xx except 501 and 505. */
  retryOn?: readonly number[];
  /**
   * Also retry POST, PATCH... after a failure that may have reached the instance. Default false:
   * such requests are retried only when they certainly were not sent (connection refused...).
   */
  retryNonIdempotent?: boolean;
  /** Caps retries to a share of the traffic, so retries cannot amplify an outage. */
  retryBudget?: Partial<Omit<RetryBudgetOptions, 'now'>>;
  /** Ejection of instances that keep failing. */
  outlier?: Partial<Omit<OutlierOptions, 'now'>>;
  /** Most connections open to one instance at once. Default 32. */
  connectionsPerInstance?: number;
  /** How long the last known instances serve while Consul is unreachable (see ServedSet). */
  freshness?: Partial<ServedSetOptions>;
  /**
   * Where the client's lines go: a logger, or a file of JSON lines ('-': stdout). Neither: no log
   * is written (the events can still be subscribed to, see src/events). `farol call` passes
   * logs/client-log.txt.
   */
  logFile?: string;
  logger?: Logger;
  /**
   * Prometheus metrics of this client's calls: true (prom-client's default registry) or a Registry;
   * { registry, instanceLabels: true } also labels each try with the instance id. Default off.
   */
  metrics?: MetricsOption;
  /** OpenTelemetry spans (call, tries) and traceparent on each try; default true, free until an SDK is registered. */
  tracing?: boolean;
}

export interface ClientTlsOptions {
  ca: CaSource;
  clientCertificate?: KeyPairSource;
}

/** @deprecated the earlier shape of a client certificate; see KeyPairSource. */
export type ClientCertificate = { cert: string; key: string } | { certFile: string; keyFile: string };

export interface CallOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  instance: { id: string; address: string; port: number };
  /** Of the whole call, retries and their pauses included. */
  latencyMs: number;
  /** How many instances were tried (1 when the first answer was kept). */
  attempts: number;
}

export interface FarolClient {
  /** Whose events this client publishes (see src/events): compare a payload's `owner` with it. */
  readonly owner: EventOwner;
  /** Calls one passing instance of `service`. Resolves with any HTTP status; rejects with a FarolError. */
  call(service: string, opts?: CallOptions): Promise<CallResult>;
  /** The passing instances of `service` as the client currently knows them. */
  instances(service: string): Promise<Instance[]>;
  /** Stops the watches and closes every connection (and the Consul client, if this client made it). */
  close(): Promise<void>;
}

/** What a service needs the client to remember: its balancer, ejections and rest periods. */
interface ServiceState {
  balancer: Balancer;
  outliers: OutlierDetector;
  /** Instances that answered 503 with Retry-After, until when (performance.now ms). */
  resting: Map<string, number>;
  panic: boolean;
}

/** What the events of one call share. */
interface CallFacts {
  readonly call: object;
  readonly service: string;
  readonly method: string;
  /** For events: the path without its query string, which can carry secrets. */
  readonly path: string;
  /** What is sent. */
  readonly requestPath: string;
  readonly started: number;
  attempts: number;
  instance: InstanceRef | undefined;
}

type Attempt =
  | { kind: 'response'; result: CallResult; retryable: boolean; retryAfterMs: number | undefined }
  | { kind: 'failure'; error: FarolError; retryable: boolean };

export function createClient(opts: ClientOptions): FarolClient {
  const timeoutMs = timerMs(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs', 'pass a timeout such as 10000 (10 s)');
  const retries = opts.retries ?? DEFAULT_RETRIES;
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
    throw new FarolError('CONFIG_INVALID', `retries must be a whole number from 0 to 10, got ${String(opts.retries)}`, {
      hint: 'pass retries: 2 (up to two more instances are tried)',
    });
  }
  const deadlineMs = timerMs(opts.deadlineMs ?? Math.min(timeoutMs * (retries + 1), MAX_TIMER_DELAY_MS), 'deadlineMs', 'pass a deadline such as 30000 (30 s)');
  const connections = positive(opts.connectionsPerInstance ?? DEFAULT_CONNECTIONS_PER_INSTANCE, 'connectionsPerInstance', 'pass e.g. 32');
  // Before anything that would need closing: a bad CA or client certificate throws here.
  const tlsSources = clientTlsSources(opts);
  checkMetricsOption(opts.metrics);
  const logger = opts.logger ?? (opts.logFile === undefined ? undefined : createLogger({ name: 'client', file: opts.logFile }));
  const owner = createEventOwner('client', `client-${randomBytes(4).toString('hex')}`);
  const ownsConsul = !(opts.consul instanceof ConsulClient);
  const consul =
    opts.consul instanceof ConsulClient
      ? opts.consul
      : new ConsulClient({ ...(opts.consul ?? consulOptionsFromEnv(process.env)), events: owner });
  // The logger is one subscriber of this client's events (and those of the parts it makes).
  const detachLog = logger === undefined ? () => undefined : subscribeLogger(logger, { owner });
  const observation = observeClient({ owner, others: [consul.owner] }, { metrics: opts.metrics, tracing: opts.tracing });
  const balancerKind = opts.balancer ?? DEFAULT_BALANCER;
  const services = new Map<string, ServiceState>();
  const budget = new RetryBudget(opts.retryBudget);
  let tlsProvider: TlsProvider<ClientTlsState> | undefined;
  let pools: Promise<InstancePools> | undefined;
  let closed = false;

  const discovery = createDiscovery({
    consul,
    owner,
    ...(opts.freshness ? { freshness: opts.freshness } : {}),
    onChange: (service, instances) => {
      const state = services.get(service);
      if (state) {
        const ids = new Set(instances.map((i) => i.id));
        state.balancer.forget(ids);
        state.outliers.forget(ids);
        for (const id of state.resting.keys()) if (!ids.has(id)) state.resting.delete(id);
      }
      void pools?.then((ready) => ready.retainOnly(currentTargets()), () => undefined);
    },
  });

  function currentTargets(): PoolTarget[] {
    const targets: PoolTarget[] = [];
    for (const instances of discovery.snapshot().values()) {
      for (const instance of instances) targets.push({ instance, serverName: serverNameFor(instance, opts.serverName) });
    }
    return targets;
  }

  function instancePools(): Promise<InstancePools> {
    pools ??= createClientTlsProvider(tlsSources, { events: owner }).then((provider) => {
      if (closed) provider.close();
      tlsProvider = provider;
      const ready = new InstancePools({ ...poolTls(provider.current()), connectTimeoutMs: timeoutMs, connections });
      provider.onChange((state) => ready.setTls(poolTls(state)));
      return ready;
    });
    return pools;
  }

  function stateFor(service: string): ServiceState {
    let state = services.get(service);
    if (!state) {
      state = {
        balancer: createBalancer(balancerKind),
        outliers: new OutlierDetector(opts.outlier),
        resting: new Map(),
        panic: false,
      };
      services.set(service, state);
    }
    return state;
  }

  /**
   * The instances to balance over, less the ejected (unless too many are) and those resting after a
   * 503 with Retry-After. When every one is resting, all of them, and how long until the first wakes.
   */
  function usable(service: string, state: ServiceState, instances: readonly Instance[]): { instances: readonly Instance[]; wakeInMs: number } {
    const available = state.outliers.available(instances);
    if (available.panic !== state.panic) {
      state.panic = available.panic;
      if (channels.clientPanic.hasSubscribers) {
        channels.clientPanic.publish({ owner, service, panic: available.panic, ejected: available.ejected, passing: instances.length });
      }
    }
    const now = performance.now();
    const awake = available.instances.filter((i) => (state.resting.get(i.id) ?? 0) <= now);
    if (awake.length > 0 || available.instances.length === 0) return { instances: awake, wakeInMs: 0 };
    const firstWake = Math.min(...available.instances.map((i) => state.resting.get(i.id) ?? now));
    return { instances: available.instances, wakeInMs: Math.max(0, firstWake - now) };
  }

  async function attempt(
    ready: InstancePools,
    facts: CallFacts,
    state: ServiceState,
    instance: Instance,
    request: { method: string; path: string; headers: Record<string, string>; body: string | Uint8Array | null },
    tryTimeoutMs: number,
    callerSignal: AbortSignal | undefined,
  ): Promise<Attempt> {
    const { service } = facts;
    const serverName = serverNameFor(instance, opts.serverName);
    facts.instance = instanceRef(instance);
    const tryRef = {};
    const tryFacts = { owner, call: facts.call, try: tryRef, service, method: facts.method, path: facts.path, attempt: facts.attempts, instance: facts.instance };
    let sent = request;
    if (channels.clientTryStart.hasSubscribers) {
      const added: Record<string, string> = {};
      channels.clientTryStart.publish({
        ...tryFacts,
        addHeader(name, value) {
          const lower = name.toLowerCase();
          if (!CREDENTIAL_HEADERS.has(lower)) added[lower] = value;
        },
      });
      for (const _name in added) {
        sent = { ...request, headers: { ...request.headers, ...added } };
        break;
      }
    }
    const done = state.balancer.start(instance);
    const started = performance.now();
    try {
      const response = await exchange(ready.poolFor({ instance, serverName }), sent, tryTimeoutMs, callerSignal);
      const { body } = response;
      const latencyMs = elapsed(started);
      const failed = response.statusCode >= 500;
      done({ latencyMs, ok: !failed });
      const retryAfterMs = response.statusCode === 503 ? parseRetryAfter(response.headers['retry-after'], Date.now()) : undefined;
      if (channels.clientTryEnd.hasSubscribers) {
        channels.clientTryEnd.publish({ ...tryFacts, durationMs: latencyMs, status: response.statusCode, error: undefined, retryAfterMs });
      }
      if (failed) noteFailure(service, state, instance.id);
      else state.outliers.recordSuccess(instance.id);
      if (retryAfterMs !== undefined) state.resting.set(instance.id, performance.now() + retryAfterMs);
      return {
        kind: 'response',
        result: {
          status: response.statusCode,
          headers: response.headers,
          body,
          instance: { id: instance.id, address: instance.address, port: instance.port },
          latencyMs,
          attempts: 1,
        },
        retryable: isRetryableStatus(response.statusCode, opts.retryOn) && (isIdempotentMethod(request.method) || opts.retryNonIdempotent === true),
        retryAfterMs,
      };
    } catch (caught) {
      const latencyMs = elapsed(started);
      done({ latencyMs, ok: false });
      if (callerSignal?.aborted) {
        const aborted = new FarolError('ABORTED', `the call to '${service}' was aborted`, { cause: caught });
        if (channels.clientTryEnd.hasSubscribers) {
          channels.clientTryEnd.publish({ ...tryFacts, durationMs: latencyMs, status: undefined, error: { code: aborted.code, message: aborted.message } });
        }
        return { kind: 'failure', error: aborted, retryable: false };
      }
      const error = caught instanceof TryTimedOut
        ? new FarolError('TIMEOUT', `'${service}' at ${hostPort(instance)} did not answer within ${tryTimeoutMs < timeoutMs ? `the ${deadlineMs} ms deadline of the call` : `${timeoutMs} ms`}`, {
            hint: 'raise --timeout, or check the load and the logs of that instance',
            details: { service, target: hostPort(instance) },
          })
        : requestFailureToFarolError(ready.tlsAlertBehind(caught) ?? caught, { service, target: hostPort(instance), expectedName: serverName ?? instance.address, timeoutMs: tryTimeoutMs });
      if (channels.clientTryEnd.hasSubscribers) {
        channels.clientTryEnd.publish({ ...tryFacts, durationMs: latencyMs, status: undefined, error: { code: error.code, message: error.message } });
      }
      noteFailure(service, state, instance.id);
      const neverSent = NEVER_SENT.has(errorCode(caught) ?? '');
      return { kind: 'failure', error, retryable: neverSent || isIdempotentMethod(request.method) || opts.retryNonIdempotent === true };
    }
  }

  function noteFailure(service: string, state: ServiceState, id: string): void {
    const ejection = state.outliers.recordFailure(id);
    if (ejection) {
      if (channels.clientEjection.hasSubscribers) {
        channels.clientEjection.publish({ owner, service, instance: id, durationMs: ejection.durationMs, ejections: ejection.ejectionCount });
      }
    }
  }

  async function call(service: string, callOpts: CallOptions = {}): Promise<CallResult> {
    if (closed) throw new FarolError('ABORTED', 'this Farol client has been closed', { hint: 'create a new client with createClient()' });
    const method = (callOpts.method ?? 'GET').toUpperCase();
    const path = normalisePath(callOpts.path);
    const started = performance.now();
    const facts: CallFacts = { call: {}, service, method, path: withoutQuery(path), requestPath: path, started, attempts: 0, instance: undefined };
    if (channels.clientCallStart.hasSubscribers) channels.clientCallStart.publish({ owner, call: facts.call, service, method, path: facts.path });
    if (!channels.clientCallEnd.hasSubscribers) return runCall(facts, callOpts);
    try {
      const result = await runCall(facts, callOpts);
      publishCallEnd(facts, result.status, undefined);
      return result;
    } catch (error) {
      publishCallEnd(facts, undefined, error);
      throw error;
    }
  }

  function publishCallEnd(facts: CallFacts, status: number | undefined, error: unknown): void {
    if (!channels.clientCallEnd.hasSubscribers) return;
    channels.clientCallEnd.publish({
      owner,
      call: facts.call,
      service: facts.service,
      method: facts.method,
      path: facts.path,
      durationMs: elapsed(facts.started),
      attempts: facts.attempts,
      status,
      instance: facts.instance,
      error: error === undefined ? undefined : error instanceof FarolError ? { code: error.code, message: error.message } : { code: 'ERROR', message: String(error) },
    });
  }

  async function runCall(facts: CallFacts, callOpts: CallOptions): Promise<CallResult> {
    const { service, method, started } = facts;
    const path = facts.requestPath;
    const deadline = started + deadlineMs;
    const ready = await instancePools();
    const credentials = opts.credentials;
    let authorization = await credentials?.authorization();
    const request = { method, path, headers: requestHeaders(callOpts.headers, authorization), body: callOpts.body ?? null };
    let refreshedCredentials = false;
    const state = stateFor(service);
    const tried = new Set<string>();
    budget.deposit();

    let last: Attempt | undefined;
    for (let tryNumber = 1; ; tryNumber += 1) {
      const candidates = usable(service, state, await discovery.passingInstances(service));
      if (last !== undefined && candidates.wakeInMs > 0) {
        // Every instance asked for a rest (503 + Retry-After): wait for the first, if the deadline allows.
        if (performance.now() + candidates.wakeInMs >= deadline) return finish(facts, last, tryNumber - 1, 'deadline');
        await sleep(candidates.wakeInMs);
      }
      const instance = state.balancer.pick(candidates.instances, tried);
      if (!instance) {
        if (last !== undefined) return finish(facts, last, tryNumber - 1, 'no instance left');
        throw await discovery.noHealthyInstanceError(service);
      }
      tried.add(instance.id);
      facts.attempts = tryNumber;
      let outcome = await attempt(ready, facts, state, instance, request, tryTimeout(timeoutMs, deadline), callOpts.signal);
      if (
        !refreshedCredentials &&
        authorization !== undefined &&
        credentials?.invalidate !== undefined &&
        outcome.kind === 'response' &&
        rejectsToken(outcome.result) &&
        performance.now() < deadline
      ) {
        // The token expired or was revoked before its time: one fresh token, once, on the same
        // instance. Not a retry in the budget's sense (nothing failed), but within the deadline.
        refreshedCredentials = true;
        credentials.invalidate(authorization);
        authorization = await credentials.authorization();
        request.headers = requestHeaders(callOpts.headers, authorization);
        if (channels.clientCredentialsRefreshed.hasSubscribers) {
          channels.clientCredentialsRefreshed.publish({ owner, call: facts.call, service, method, path: facts.path, instance: instance.id });
        }
        if (performance.now() < deadline) outcome = await attempt(ready, facts, state, instance, request, tryTimeout(timeoutMs, deadline), callOpts.signal);
      }
      last = outcome;

      const pauseMs = outcome.kind === 'response' && outcome.retryAfterMs !== undefined ? 0 : retryDelayMs(tryNumber);
      const stopReason = !outcome.retryable
        ? undefined
        : tryNumber > retries
          ? 'no retries left'
          : performance.now() + pauseMs >= deadline
            ? 'deadline'
            : !budget.tryWithdraw()
              ? 'retry budget spent'
              : null;
      if (stopReason !== null) return finish(facts, outcome, tryNumber, stopReason);
      if (channels.clientRetry.hasSubscribers) {
        channels.clientRetry.publish({
          owner,
          call: facts.call,
          service,
          method,
          path: facts.path,
          attempt: tryNumber,
          instance: instance.id,
          reason: outcome.kind === 'failure' ? outcome.error.code : outcome.result.status,
          pauseMs,
        });
      }
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  /** The last outcome becomes the call's: a FarolError thrown, or the response returned. */
  function finish(call: CallFacts, outcome: Attempt, tries: number, stopReason: 'deadline' | 'retry budget spent' | 'no instance left' | 'no retries left' | undefined): CallResult {
    if (outcome.retryable && stopReason !== undefined && stopReason !== 'no retries left') {
      if (channels.clientRetryRefused.hasSubscribers) {
        channels.clientRetryRefused.publish({ owner, call: call.call, service: call.service, method: call.method, path: call.path, attempts: tries, reason: stopReason });
      }
    }
    if (outcome.kind === 'failure') throw outcome.error;
    return { ...outcome.result, latencyMs: elapsed(call.started), attempts: tries };
  }

  return {
    owner,
    call,
    async instances(service) {
      return [...(await discovery.passingInstances(service))];
    },
    async close() {
      if (closed) return;
      closed = true;
      discovery.close();
      observation.close();
      tlsProvider?.close();
      const closing: Promise<unknown>[] = [];
      if (pools) closing.push(pools.then((ready) => ready.close(), () => undefined));
      if (ownsConsul) closing.push(consul.close());
      await Promise.all(closing);
      detachLog();
      logger?.flush();
    },
  };
}

/** Failures that happen before any byte of the request can have reached the instance. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * A per-try timeout or a deadline: a try's timer, a Retry-After rest and the retry pauses all stay
 * within it, so bounding it at setTimeout's 2^31-1 ms (24.8 days) keeps every client timer honest.
 */
function timerMs(value: number, name: string, hint: string): number {
  positive(value, name, hint);
  if (value > MAX_TIMER_DELAY_MS) {
    throw new FarolError('CONFIG_INVALID', `${name} must be at most ${MAX_TIMER_DELAY_MS} (24.8 days), got ${String(value)}`, { hint });
  }
  return value;
}

function positive(value: number, name: string, hint: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new FarolError('CONFIG_INVALID', `${name} must be a positive number, got ${String(value)}`, { hint });
  }
  return value;
}

/** A try gets the per-try timeout, or what is left of the call's deadline if that is less. */
function tryTimeout(timeoutMs: number, deadline: number): number {
  return Math.max(1, Math.ceil(Math.min(timeoutMs, deadline - performance.now())));
}

/**
 * The TLS sources of the options (tls, or the earlier ca and clientCertificate), read and checked
 * now, so a missing file or a bad certificate surfaces at creation; the provider reads them again
 * at the first call and whenever they change.
 */
function clientTlsSources(opts: ClientOptions): ClientTlsOptions {
  const hint = 'pass tls: { ca: { file: "certs/ca.pem" } } (or { pem: "-----BEGIN CERTIFICATE-----..." })';
  if (opts.tls !== undefined && (opts.ca !== undefined || opts.clientCertificate !== undefined)) {
    throw new FarolError('CONFIG_INVALID', 'give tls, or the older ca and clientCertificate options, not both', { hint });
  }
  const ca = opts.tls?.ca ?? (opts.ca === undefined ? undefined : toCaSource(opts.ca));
  if (ca === undefined) throw new FarolError('CONFIG_INVALID', 'no CA to verify services against: the tls.ca option is missing', { hint });
  if (!isCaSource(ca)) throw new FarolError('CONFIG_INVALID', 'the tls.ca option must be { pem } or { file }', { hint });
  if (typeof opts.ca === 'string' && !opts.ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new FarolError('CONFIG_INVALID', 'the ca option is not a PEM certificate', { hint: 'pass the PEM text of the CA, or { caFile: "certs/ca.pem" }' });
  }
  loadCaSourceSync(ca);
  const given = opts.tls?.clientCertificate ?? opts.clientCertificate;
  if (given === undefined) return { ca };
  const clientCertificate: KeyPairSource = 'cert' in given ? { certPem: given.cert, keyPem: given.key } : given;
  if (!isKeyPairSource(clientCertificate)) {
    throw new FarolError('CONFIG_INVALID', 'the tls.clientCertificate option must be { certPem, keyPem } or { certFile, keyFile }', {
      hint: 'farol certs issue --dir <CA dir> --client <name> writes client-<name>.pem and client-<name>-key.pem',
    });
  }
  loadKeyPairSourceSync(clientCertificate);
  return { ca, clientCertificate };
}

function poolTls(state: ClientTlsState): { ca: string; clientCertificate?: { cert: string; key: string } } {
  const pair = state.clientCertificate;
  return { ca: state.ca.pem, ...(pair ? { clientCertificate: { cert: pair.certPem, key: pair.keyPem } } : {}) };
}

/** A 401 whose challenge says the token itself is bad (RFC 6750 §3.1), not that credentials are missing. */
function rejectsToken(result: CallResult): boolean {
  if (result.status !== 401) return false;
  const challenge = result.headers['www-authenticate'];
  const challenges = Array.isArray(challenge) ? challenge : challenge === undefined ? [] : [challenge];
  return challenges.some((value) => INVALID_TOKEN.test(value));
}

const INVALID_TOKEN = /\berror\s*=\s*"?invalid_token"?/i;

function requestHeaders(given: Record<string, string> | undefined, authorization: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { ...given };
  if (authorization !== undefined) {
    for (const name of Object.keys(headers)) if (name.toLowerCase() === 'authorization') delete headers[name];
    headers.authorization = authorization;
  }
  return headers;
}

function withoutQuery(path: string): string {
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}

function normalisePath(path: string | undefined): string {
  if (!path) return '/';
  return path.startsWith('/') ? path : `/${path}`;
}

function instanceRef(instance: Instance): InstanceRef {
  return { id: instance.id, address: instance.address, port: instance.port };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

