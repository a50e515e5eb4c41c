import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { ConsulClient, consulOptionsFromEnv } from '../consul/index.js';
import { FarolError } from '../errors.js';
import { createEventOwner, type EventOwner } from '../events/channels.js';
import { checkMetricsOption, observeClient } from '../events/observe.js';
import { subscribeLogger } from '../events/log-subscriber.js';
import { createLogger } from '../log/logger.js';
import { createClientTlsProvider, type ClientTlsState, type TlsProvider } from '../pki/index.js';
import { CallRun, type CallContext } from './call-run.js';
import { CredentialStage } from './credentials.js';
import { createDiscovery } from './discovery.js';
import { createServiceDispatcher } from './dispatcher.js';
import type { Instance } from './instance.js';
import { resolveClientOptions, type ClientOptions } from './options.js';
import { InstancePools, serverNameFor, type PoolTarget } from './pools.js';
import { RetryBudget } from './retry-budget.js';
import { InstanceSelection } from './selection.js';

export { DEFAULT_TIMEOUT_MS, DEFAULT_RETRIES, DEFAULT_CONNECTIONS_PER_INSTANCE } from './options.js';
export type { ClientOptions, ClientCertificate, ClientTlsOptions } from './options.js';

/** The log file of `farol call` (the original project's); the library itself writes none by default. */
export const DEFAULT_CLIENT_LOG_FILE = 'logs/client-log.txt';

export interface CallOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /** A limit for this whole call, retries included (TIMEOUT past it); the client's retry.deadlineMs still applies. */
  timeoutMs?: number;
}

export interface CallResult<Body = string> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as text (UTF-8, without a leading byte order mark); Buffer from callBuffer, the parsed value from callJson. */
  body: Body;
  instance: { id: string; address: string; port: number };
  /** Of the whole call, retries and their pauses included. */
  latencyMs: number;
  /** How many instances were tried (1 when the first answer was kept). */
  attempts: number;
}

export interface FarolClient {
  /** Whose events this client publishes (see src/events): compare a payload's `owner` with it. */
  readonly owner: EventOwner;
  /**
   * An undici Dispatcher: `fetch('https://orders.service.consul/v1/x', { dispatcher })` calls the
   * service 'orders' (see docs/client.md). Bodies stream both ways.
   */
  readonly dispatcher: Dispatcher;
  /** Calls one passing instance of `service`. Resolves with any HTTP status, the body as text; rejects with a FarolError. */
  call(service: string, opts?: CallOptions): Promise<CallResult>;
  /** As call(), the body as bytes. */
  callBuffer(service: string, opts?: CallOptions): Promise<CallResult<Buffer>>;
  /** As call(), the body parsed as JSON (REQUEST_FAILED when it is not JSON; undefined for an empty body). */
  callJson<T = unknown>(service: string, opts?: CallOptions): Promise<CallResult<T>>;
  /** The passing instances of `service` as the client currently knows them. */
  instances(service: string): Promise<Instance[]>;
  /** Stops the watches and closes every connection (and the Consul client, if this client made it). */
  close(): Promise<void>;
}

export function createClient(given: ClientOptions): FarolClient {
  // Every option is checked, and the TLS files read, before anything that would need closing.
  const options = resolveClientOptions(given);
  checkMetricsOption(given.metrics);
  const logger = given.logger ?? (given.logFile === undefined ? undefined : createLogger({ name: 'client', file: given.logFile }));
  const owner = createEventOwner('client', `client-${randomBytes(4).toString('hex')}`);
  const ownsConsul = !(given.consul instanceof ConsulClient);
  const consul =
    given.consul instanceof ConsulClient ? given.consul : new ConsulClient({ ...(given.consul ?? consulOptionsFromEnv(process.env)), events: owner });
  // The logger is one subscriber of this client's events (and those of the parts it makes).
  const detachLog = logger === undefined ? () => undefined : subscribeLogger(logger, { owner });
  const observation = observeClient({ owner, others: [consul.owner] }, { metrics: given.metrics, tracing: given.tracing });
  const selection = new InstanceSelection(owner, options.balancer, options.outlier);
  let tlsProvider: TlsProvider<ClientTlsState> | undefined;
  let pools: Promise<InstancePools> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;

  const discovery = createDiscovery({
    consul,
    owner,
    ...(options.freshness ? { freshness: options.freshness } : {}),
    ...options.consistency,
    ...options.watches,
    onChange: (service, instances) => {
      selection.retain(service, instances);
      void pools?.then((ready) => ready.retainOnly(currentTargets()), () => undefined);
    },
  });

  function currentTargets(): PoolTarget[] {
    const targets: PoolTarget[] = [];
    for (const instances of discovery.snapshot().values()) {
      for (const instance of instances) targets.push({ instance, serverName: serverNameFor(instance, options.serverName) });
    }
    return targets;
  }

  function instancePools(): Promise<InstancePools> {
    pools ??= createClientTlsProvider(options.tls, { events: owner }).then((provider) => {
      if (closed) provider.close();
      tlsProvider = provider;
      const ready = new InstancePools({ ...poolTls(provider.current()), connectTimeoutMs: options.retry.timeoutMs, connections: options.connectionsPerInstance });
      provider.onChange((state) => ready.setTls(poolTls(state)));
      return ready;
    });
    return pools;
  }

  const ctx: CallContext = {
    owner,
    options,
    discovery,
    selection,
    credentials: new CredentialStage(given.credentials),
    budget: new RetryBudget(options.retry.budget),
    pools: instancePools,
  };

  function startCall(service: string, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): CallRun {
    const run = new CallRun(ctx, service, opts, handler);
    run.start();
    return run;
  }

  async function close(): Promise<void> {
    if (closing) return closing;
    closed = true;
    closing = (async () => {
      discovery.close();
      observation.close();
      tlsProvider?.close();
      const waits: Promise<unknown>[] = [routing.closePassThrough()];
      if (pools) waits.push(pools.then((ready) => ready.close(), () => undefined));
      if (ownsConsul) waits.push(consul.close());
      await Promise.all(waits);
      detachLog();
      logger?.flush();
    })();
    return closing;
  }

  const routing = createServiceDispatcher({
    startCall: (service, opts, handler) => void startCall(service, opts, handler),
    serviceOfHost: options.serviceOfHost,
    otherHosts: options.otherHosts,
    isClosed: () => closed,
    close,
  });

  /** A call over the dispatcher's stages, its body read whole. */
  function callBytes(service: string, callOpts: CallOptions = {}): Promise<CallResult<Buffer>> {
    if (closed) return Promise.reject(new FarolError('CLIENT_CLOSED', 'this Farol client has been closed', { hint: 'create a new client with createClient()' }));
    return new Promise((resolve, reject) => {
      const { signal, timeoutMs } = callOpts;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => run.abort(new FarolError('ABORTED', `the call to '${service}' was aborted`, { cause: signal?.reason }));
      const cleanUp = (): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const handler = new BufferingHandler(
        (status, headers, body) => {
          cleanUp();
          resolve({ status, headers, body, instance: { ...run.instance! }, latencyMs: Math.round((performance.now() - run.started) * 10) / 10, attempts: run.attempts });
        },
        (error) => {
          cleanUp();
          reject(error);
        },
      );
      const body = callOpts.body ?? null;
      const run = new CallRun(ctx, service, { method: (callOpts.method ?? 'GET').toUpperCase() as Dispatcher.HttpMethod, path: normalisePath(callOpts.path), headers: callOpts.headers ?? {}, body }, handler);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => run.abort(new FarolError('TIMEOUT', `the call to '${service}' did not complete within ${timeoutMs} ms`, { hint: 'raise the call\'s timeoutMs' })), timeoutMs);
      }
      run.start();
    });
  }

  return {
    owner,
    dispatcher: routing.dispatcher,
    async call(service, opts) {
      const result = await callBytes(service, opts);
      return { ...result, body: text(result.body) };
    },
    callBuffer: callBytes,
    async callJson<T>(service: string, opts?: CallOptions): Promise<CallResult<T>> {
      const result = await callBytes(service, opts);
      const body = text(result.body);
      try {
        return { ...result, body: (body === '' ? undefined : JSON.parse(body)) as T };
      } catch (error) {
        throw new FarolError('REQUEST_FAILED', `'${service}' answered ${result.status} with a body that is not JSON`, {
          hint: 'use call() or callBuffer() for this endpoint',
          cause: error,
          details: { service, status: result.status },
        });
      }
    },
    async instances(service) {
      return [...(await discovery.passingInstances(service))];
    },
    close,
  };
}

/** Collects a whole response for call(); undici's controller API. */
class BufferingHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];

  constructor(
    private readonly done: (status: number, headers: IncomingHttpHeaders, body: Buffer) => void,
    private readonly failed: (error: Error) => void,
  ) {}

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.done(this.status, this.headers, this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks));
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.failed(error);
  }
}

const UTF8_BOM = 0xfeff;

/** As undici's body.text(): UTF-8, a leading byte order mark is not part of the text. */
function text(body: Buffer): string {
  const decoded = body.toString('utf8');
  return decoded.charCodeAt(0) === UTF8_BOM ? decoded.slice(1) : decoded;
}

function poolTls(state: ClientTlsState): { ca: string; clientCertificate?: { cert: string; key: string } } {
  const pair = state.clientCertificate;
  return { ca: state.ca.pem, ...(pair ? { clientCertificate: { cert: pair.certPem, key: pair.keyPem } } : {}) };
}

function normalisePath(path: string | undefined): string {
  if (!path) return '/';
  return path.startsWith('/') ? path : `/${path}`;
}
