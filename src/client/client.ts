import { performance } from 'node:perf_hooks';
import type { CredentialProvider } from '../auth/index.js';
import { ConsulClient, consulOptionsFromEnv, type ConsulClientOptions } from '../consul/index.js';
import { FarolError } from '../errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { loadCaBundle } from '../pki/index.js';
import { createBalancer, type Balancer, type BalancerKind } from './balancer.js';
import { createDiscovery } from './discovery.js';
import { hostPort, type Instance } from './instance.js';
import { InstancePools, serverNameFor, type PoolTarget } from './pools.js';
import { requestFailureToFarolError } from './tls-errors.js';

export const DEFAULT_CLIENT_LOG_FILE = 'logs/client-log.txt';
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface ClientOptions {
  /** A client to share (not closed by this one), or options for a new one; default: Consul's environment variables. */
  consul?: ConsulClient | ConsulClientOptions;
  /** PEM, or a file holding it, of the CA that signs service certificates. Verification is always on. */
  ca: string | { caFile: string };
  credentials?: CredentialProvider;
  /** TLS name to verify; '{service}' is replaced by the service name. Default: the instance's registered address. */
  serverName?: string;
  balancer?: BalancerKind;
  /** Per request, default 10000. */
  timeoutMs?: number;
  /** Default logs/client-log.txt, unless a logger is given. */
  logFile?: string;
  logger?: Logger;
}

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
  latencyMs: number;
}

export interface FarolClient {
  /** Calls one passing instance of `service`. Resolves with any HTTP status; rejects with a FarolError. */
  call(service: string, opts?: CallOptions): Promise<CallResult>;
  /** The passing instances of `service` as the client currently knows them. */
  instances(service: string): Promise<Instance[]>;
  /** Stops the watches and closes every connection (and the Consul client, if this client made it). */
  close(): Promise<void>;
}

export function createClient(opts: ClientOptions): FarolClient {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new FarolError('CONFIG_INVALID', `timeoutMs must be a positive number of milliseconds, got ${String(opts.timeoutMs)}`, {
      hint: 'pass a timeout such as 10000 (10 s)',
    });
  }
  const logger = opts.logger ?? createLogger({ name: 'client', file: opts.logFile ?? DEFAULT_CLIENT_LOG_FILE });
  const ownsConsul = !(opts.consul instanceof ConsulClient);
  const consul =
    opts.consul instanceof ConsulClient
      ? opts.consul
      : new ConsulClient({ logger, ...(opts.consul ?? consulOptionsFromEnv(process.env)) });
  const balancers = new Map<string, Balancer>();
  let pools: Promise<InstancePools> | undefined;
  let closed = false;

  const discovery = createDiscovery({
    consul,
    logger,
    onChange: () => {
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
    pools ??= loadCa(opts.ca).then((ca) => new InstancePools({ ca, connectTimeoutMs: timeoutMs }));
    return pools;
  }

  function balancerFor(service: string): Balancer {
    let balancer = balancers.get(service);
    if (!balancer) {
      balancer = createBalancer(opts.balancer ?? 'round-robin');
      balancers.set(service, balancer);
    }
    return balancer;
  }

  async function call(service: string, callOpts: CallOptions = {}): Promise<CallResult> {
    if (closed) throw new FarolError('ABORTED', 'this Farol client has been closed', { hint: 'create a new client with createClient()' });
    const method = (callOpts.method ?? 'GET').toUpperCase();
    const path = normalisePath(callOpts.path);
    const ready = await instancePools();
    const instance = balancerFor(service).pick(await discovery.passingInstances(service));
    if (!instance) throw await discovery.noHealthyInstanceError(service);

    const serverName = serverNameFor(instance, opts.serverName);
    const target = hostPort(instance);
    const headers = await requestHeaders(callOpts.headers, opts.credentials);
    const facts = { service, instance: instance.id, address: instance.address, port: instance.port, method, path };
    const started = performance.now();
    try {
      const response = await ready.poolFor({ instance, serverName }).request({
        method,
        path,
        headers,
        body: callOpts.body ?? null,
        signal: callOpts.signal ?? null,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const body = await response.body.text();
      const latencyMs = elapsed(started);
      logger.info({ event: 'call', ...facts, status: response.statusCode, latencyMs }, `${method} ${path} -> ${response.statusCode}`);
      return {
        status: response.statusCode,
        headers: response.headers,
        body,
        instance: { id: instance.id, address: instance.address, port: instance.port },
        latencyMs,
      };
    } catch (error) {
      const failure = requestFailureToFarolError(error, {
        service,
        target,
        expectedName: serverName ?? instance.address,
        timeoutMs,
      });
      logger.warn({ event: 'call_failed', ...facts, code: failure.code, error: failure.message, latencyMs: elapsed(started) }, failure.message);
      throw failure;
    }
  }

  return {
    call,
    async instances(service) {
      return [...(await discovery.passingInstances(service))];
    },
    async close() {
      if (closed) return;
      closed = true;
      discovery.close();
      const closing: Promise<unknown>[] = [];
      if (pools) closing.push(pools.then((ready) => ready.close(), () => undefined));
      if (ownsConsul) closing.push(consul.close());
      await Promise.all(closing);
      logger.flush();
    },
  };
}

async function loadCa(ca: ClientOptions['ca']): Promise<string> {
  if (typeof ca !== 'string') return loadCaBundle(ca.caFile);
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new FarolError('CONFIG_INVALID', 'the ca option is not a PEM certificate', {
      hint: 'pass the PEM text of the CA, or { caFile: "certs/ca.pem" }',
    });
  }
  return ca;
}

async function requestHeaders(
  given: Record<string, string> | undefined,
  credentials: CredentialProvider | undefined,
): Promise<Record<string, string>> {
  const headers: Record<string, string> = { ...given };
  const authorization = await credentials?.authorization();
  if (authorization !== undefined) {
    for (const name of Object.keys(headers)) if (name.toLowerCase() === 'authorization') delete headers[name];
    headers.authorization = authorization;
  }
  return headers;
}

function normalisePath(path: string | undefined): string {
  if (!path) return '/';
  return path.startsWith('/') ? path : `/${path}`;
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
