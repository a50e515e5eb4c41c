import { Pool } from 'undici';
import { FarolError, isFarolError } from '../errors.js';
import { loadCaSource, loadKeyPairSource, toCaSource } from '../pki/index.js';
import { channels, type EventOwner } from '../events/channels.js';
import { componentEvents, type ComponentEvents } from '../events/owner.js';
import { silentLogger } from '../log/logger.js';
import { clampTimerDelay } from '../timers/long-timeout.js';
import type { Logger } from '../log/logger.js';
import { DEFAULT_CONSUL_ADDRESS, parseConsulAddress } from './address.js';
import type { ConsulEndpoint } from './address.js';
import { classifyTransportError, CLIENT_CERTIFICATE_HINT, responseError, tlsError, unreachableError } from './failures.js';
import type { ConsulClientOptions, ConsulTlsOptions } from './options.js';
import { parseQueryMeta, queryParams, requestTimeoutMs } from './query.js';
import type { ResponseHeaders } from './query.js';
import type { QueryMeta, QueryOptions } from './types.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

export type QueryParams = Record<string, string | string[] | undefined>;

export interface ConsulRequest {
  method: 'GET' | 'PUT';
  /** API path without any reverse-proxy prefix, e.g. "/v1/agent/services". */
  path: string;
  params?: QueryParams;
  /** Serialised as JSON. */
  body?: unknown;
  /** index / wait / signal of a read. */
  query?: QueryOptions;
}

export interface ConsulResponse {
  status: number;
  headers: ResponseHeaders;
  body: string;
}

interface TlsConnectOptions {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}

/** Loads a TLS source for Consul; a failure's hint also names the Consul variable that may have set it. */
async function loadFor<T>(load: () => Promise<T>, variable: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (!isFarolError(error)) throw error;
    throw new FarolError(error.code, `${error.message} (TLS to Consul)`, {
      hint: `check ${variable} (or the matching Consul TLS option); ${error.hint ?? ''}`.replace(/; $/, ''),
      cause: error,
    });
  }
}

async function loadTls(tls: ConsulTlsOptions): Promise<TlsConnectOptions> {
  const options: TlsConnectOptions = {};
  const ca = tls.ca !== undefined ? toCaSource(tls.ca) : tls.caFile !== undefined ? { file: tls.caFile } : undefined;
  if (ca !== undefined) options.ca = (await loadFor(() => loadCaSource(ca), 'CONSUL_CACERT')).pem;
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new FarolError('CONFIG_INVALID', 'A client certificate for Consul needs both a certificate and a key file', {
      hint: 'set both CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY, or neither',
    });
  }
  const pair = tls.clientCertificate ?? (tls.certFile !== undefined && tls.keyFile !== undefined ? { certFile: tls.certFile, keyFile: tls.keyFile } : undefined);
  if (pair !== undefined) {
    const loaded = await loadFor(() => loadKeyPairSource(pair), 'CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY');
    options.cert = loaded.certPem;
    options.key = loaded.keyPem;
  }
  if (tls.serverName !== undefined) options.servername = tls.serverName;
  return options;
}

function buildPath(endpoint: ConsulEndpoint, path: string, params: QueryParams): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, item);
  }
  const query = search.toString();
  return `${endpoint.pathPrefix}${path}${query === '' ? '' : `?${query}`}`;
}

/**
 * The request core every endpoint group goes through: one keep-alive undici Pool per agent
 * address, the ACL token header, TLS with verification, per-request timeouts sized for
 * blocking queries, failover between addresses, and the mapping of failures to FarolErrors.
 */
export class ConsulHttp {
  readonly logger: Logger;
  readonly #events: ComponentEvents;
  readonly #endpoints: ConsulEndpoint[];
  readonly #pools = new Map<number, Pool>();
  readonly #token: string | undefined;
  readonly #tls: ConsulTlsOptions | undefined;
  readonly #timeoutMs: number;
  readonly #closing = new AbortController();
  #tlsOptions: Promise<TlsConnectOptions> | undefined;
  #current = 0;

  constructor(options: ConsulClientOptions = {}) {
    const addresses = options.address === undefined ? [DEFAULT_CONSUL_ADDRESS] : [options.address].flat();
    if (addresses.length === 0) addresses.push(DEFAULT_CONSUL_ADDRESS);
    this.#endpoints = addresses.map(parseConsulAddress);
    this.#token = options.token === '' ? undefined : options.token;
    this.#tls = options.tls;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.logger = options.logger ?? silentLogger();
    this.#events = componentEvents('consul', addresses.join(','), options);
  }

  /** Whose events this client publishes (its maker's, or its own). */
  get owner(): EventOwner {
    return this.#events.owner;
  }

  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** The address currently in use, as the user wrote it. */
  get address(): string {
    return (this.#endpoints[this.#current] as ConsulEndpoint).display;
  }

  /** A read: decodes the JSON body and the X-Consul-* metadata. */
  async read<T>(request: Omit<ConsulRequest, 'method'>): Promise<{ value: T; meta: QueryMeta }> {
    const response = await this.send({ ...request, method: 'GET' });
    let value: T;
    try {
      value = JSON.parse(response.body) as T;
    } catch (error) {
      throw new FarolError('CONSUL_ERROR', `Consul sent a response to GET ${request.path} that is not JSON`, {
        hint: `check that ${this.address} is a Consul agent's HTTP address`,
        cause: error,
      });
    }
    return { value, meta: parseQueryMeta(response.headers) };
  }

  /** A write: PUT with an optional JSON body; the answer's body is ignored. */
  async write(request: Omit<ConsulRequest, 'method' | 'query'>): Promise<void> {
    await this.send({ ...request, method: 'PUT' });
  }

  /**
   * Sends one request, starting with the address in use. A connection that cannot be made
   * (or, for a read, that breaks) moves on to the next address; the first that answers
   * becomes the address in use. Resolves only for 2xx answers.
   */
  async send(request: ConsulRequest): Promise<ConsulResponse> {
    if (this.#closing.signal.aborted) {
      throw new FarolError('ABORTED', 'The Consul client is closed', { hint: 'create a new ConsulClient' });
    }
    const params = { ...queryParams(request.query), ...request.params };
    const timeoutMs = requestTimeoutMs(request.query ?? {}, this.#timeoutMs);
    const attempts: { address: string; code: string }[] = [];
    let closedOverTlsWithoutCertificate = true;
    const first = this.#current;
    let lastError: unknown;

    for (let offset = 0; offset < this.#endpoints.length; offset += 1) {
      const index = (first + offset) % this.#endpoints.length;
      const endpoint = this.#endpoints[index] as ConsulEndpoint;
      try {
        const response = await this.#sendTo(index, endpoint, request, params, timeoutMs);
        if (index !== this.#current) {
          if (channels.consulAddressSwitch.hasSubscribers) {
            channels.consulAddressSwitch.publish({ owner: this.owner, address: endpoint.display, previous: this.address });
          }
          this.#current = index;
        }
        if (response.status < 200 || response.status > 299) {
          throw responseError(response, { method: request.method, path: request.path, address: endpoint.display });
        }
        return response;
      } catch (error) {
        if (error instanceof FarolError) throw error;
        const failure = classifyTransportError(error);
        if (failure.kind === 'tls-untrusted' || failure.kind === 'tls') throw tlsError(endpoint.display, failure, error);
        if (failure.kind === 'other') {
          throw new FarolError('CONSUL_ERROR', `Request to Consul at ${endpoint.display} failed: ${String(error)}`, {
            hint: `check the Consul agent at ${endpoint.display}`,
            cause: error,
          });
        }
        attempts.push({ address: endpoint.display, code: failure.code });
        closedOverTlsWithoutCertificate &&= failure.kind === 'socket' && endpoint.scheme === 'https' && !this.#hasClientCertificate();
        lastError = error;
        if (channels.consulAddressFailed.hasSubscribers) {
          channels.consulAddressFailed.publish({ owner: this.owner, address: endpoint.display, code: failure.code });
        }
        const mayTryNext = failure.kind === 'connect' || request.method === 'GET';
        if (!mayTryNext) break;
      }
    }
    throw unreachableError(attempts, lastError, closedOverTlsWithoutCertificate ? CLIENT_CERTIFICATE_HINT : undefined);
  }

  #hasClientCertificate(): boolean {
    const tls = this.#tls;
    return tls !== undefined && (tls.clientCertificate !== undefined || tls.certFile !== undefined || tls.keyFile !== undefined);
  }

  async #sendTo(
    index: number,
    endpoint: ConsulEndpoint,
    request: ConsulRequest,
    params: QueryParams,
    timeoutMs: number,
  ): Promise<ConsulResponse> {
    const pool = await this.#pool(index, endpoint);
    // Clamped: a user's timeoutMs beyond 24.8 days would otherwise time out after 1 ms.
    const timeout = AbortSignal.timeout(Math.max(1, clampTimerDelay(timeoutMs)));
    const callerSignal = request.query?.signal;
    const signals = [this.#closing.signal, timeout, ...(callerSignal ? [callerSignal] : [])];
    const signal = AbortSignal.any(signals);
    const headers: Record<string, string> = {};
    if (this.#token !== undefined) headers['x-consul-token'] = this.#token;
    let body: string | undefined;
    if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers['content-type'] = 'application/json';
    }
    const path = buildPath(endpoint, request.path, params);
    const started = performance.now();
    try {
      const response = await pool.request({
        method: request.method,
        path,
        headers,
        body,
        signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      const text = await response.body.text();
      if (channels.consulRequestEnd.hasSubscribers) {
        channels.consulRequestEnd.publish({
          owner: this.owner,
          method: request.method,
          path,
          address: endpoint.display,
          status: response.statusCode,
          durationMs: Math.round(performance.now() - started),
        });
      }
      return { status: response.statusCode, headers: response.headers, body: text };
    } catch (error) {
      if (callerSignal?.aborted || this.#closing.signal.aborted) {
        throw new FarolError('ABORTED', `Consul request ${request.method} ${request.path} was aborted`, { cause: error });
      }
      if (timeout.aborted) {
        throw new FarolError('TIMEOUT', `Consul at ${endpoint.display} did not answer ${request.method} ${request.path} within ${timeoutMs} ms`, {
          hint: `check the Consul agent at ${endpoint.display}, or raise the Consul timeout`,
          cause: error,
        });
      }
      throw error;
    }
  }

  async #pool(index: number, endpoint: ConsulEndpoint): Promise<Pool> {
    const existing = this.#pools.get(index);
    if (existing) return existing;
    const connect: Record<string, unknown> = { timeout: Math.max(1000, Math.min(5000, this.#timeoutMs)) };
    if (endpoint.scheme === 'https') Object.assign(connect, await this.#loadTls());
    const raced = this.#pools.get(index);
    if (raced) return raced;
    const pool = new Pool(endpoint.origin, {
      connect,
      ...(endpoint.socketPath === undefined ? {} : { socketPath: endpoint.socketPath }),
    });
    this.#pools.set(index, pool);
    return pool;
  }

  #loadTls(): Promise<TlsConnectOptions> {
    if (this.#tlsOptions === undefined) {
      this.#tlsOptions = loadTls(this.#tls ?? {});
      // A bad file should be reported again on the next request, not cached forever.
      this.#tlsOptions.catch(() => {
        this.#tlsOptions = undefined;
      });
    }
    return this.#tlsOptions;
  }

  /** Aborts requests in flight (blocking queries included) and closes every connection. */
  async close(): Promise<void> {
    this.#closing.abort();
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
    this.#events.close();
  }
}
