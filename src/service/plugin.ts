/**
 * Farol as a fastify plugin, for an app the team already has:
 *
 *     const app = fastify({ https: { key, cert } });          // or farolHttpsOptions(tls)
 *     await app.register(farolPlugin, { service: { name: 'orders' }, auth: { usersFile: 'users.txt' }, certificate: cert });
 *     app.get('/orders', handler);                            // authenticated
 *     await app.listen({ port: 0, host: '127.0.0.1' });       // registered in Consul once listening
 *     process.on('SIGTERM', () => app.farol.drain('SIGTERM')); // or app.close(): the ordered drain
 *
 * Built on the two parts a server of any other kind uses as well: createRequestAuth (the
 * onRequest hook) and createRegistration (onListen, preClose and onClose).
 */
import type { Server as TlsServer } from 'node:tls';
import type { FastifyError, FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Principal } from '../auth/index.js';
import { addressKey } from '../auth/index.js';
import { FarolError } from '../errors.js';
import { channels, CREDENTIAL_HEADERS, type EventOwner } from '../events/channels.js';
import { subscribeLogger } from '../events/log-subscriber.js';
import { observeService, type Observation } from '../events/observe.js';
import type { Logger } from '../log/logger.js';
import type { ServerTlsState, TlsProvider } from '../pki/index.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_HEADERS_TIMEOUT_MS } from '../pki/tls-policy.js';
import { watchCertificateExpiry, type CertificateExpiryWatch } from './certificate-expiry.js';
import { startHealthListener, type HealthListener } from './health-listener.js';
import { awaitClosed, boundTo, createRegistration, type ServiceRegistration } from './lifecycle.js';
import type { AuthOptions, RegistrationOptions, ServiceOptions } from './options.js';
import { createRequestAuth, pathOf, type RequestAuth, type RequestEventFacts, type RouteAuth } from './request-auth.js';
import { followTlsProvider } from './server-tls.js';

export interface FarolPluginOptions extends Omit<RegistrationOptions, 'service'> {
  /** The instance in Consul: its name (a DNS label), the address registered (default: the one bound), tags, meta. */
  service?: RegistrationOptions['service'];
  /** A lifecycle made by createRegistration, instead of `service` and the registration options. */
  registration?: ServiceRegistration;
  /**
   * How callers authenticate: auth options (the realm defaults to the service name; built when the
   * plugin loads, released on close), or a RequestAuth from createRequestAuth (yours to close).
   * Every route requires it except GET /health and routes with `config: { auth: { public: true } }`.
   */
  auth: (Omit<AuthOptions, 'realm'> & { realm?: string }) | RequestAuth;
  /**
   * The app serves Farol's TLS provider (`fastify({ https: farolHttpsOptions(tls) })`): a rotated
   * certificate reaches new handshakes, its expiry is watched, and the health check is decided from it.
   */
  tls?: TlsProvider<ServerTlsState>;
  /**
   * When client certificates are required at the handshake (and `tls` is given), GET /health is
   * also served without one on a second port for Consul's check: `port` (default 0, a free port).
   */
  health?: { port?: number };
  /** Bounds of the health listener (default 15000 ms each). */
  timeouts?: { handshakeMs?: number; headersMs?: number };
  /**
   * Registration at listen. `keepTrying` (default true): if Consul cannot be reached, the app
   * serves anyway, a warning is published and anti-entropy registers it once Consul answers;
   * false: app.farol.started() rejects.
   */
  register?: { keepTrying?: boolean };
  /** Writes this instance's events (access lines, registration, drain) to a pino logger. */
  logger?: Logger;
  metrics?: ServiceOptions['metrics'];
  tracing?: boolean;
}

/** What the plugin adds to the app: `app.farol`. */
export interface FarolDecoration {
  readonly owner: EventOwner;
  readonly name: string;
  readonly instanceId: string;
  readonly registration: ServiceRegistration;
  readonly auth: RequestAuth;
  /** From the start of the drain on. */
  readonly draining: boolean;
  /** The health listener's port, when there is one (client certificates required). */
  readonly healthPort: number | undefined;
  /** Resolves once the app listens and is registered; rejects if that failed (register.keepTrying false, or the health listener). */
  started(): Promise<void>;
  /**
   * The ordered drain, then close: out of Consul's passing set, wait drain.delayMs (requests are
   * still served, each closing its connection), stop accepting, let in-flight requests finish
   * (at most drain.timeoutMs), deregister. app.close() alone does the same, but fastify answers
   * 503 during the wait unless the app was created with return503OnClosing: false.
   */
  drain(reason?: string): Promise<void>;
  /** drain(), in the shape stopOnSignals takes: `stopOnSignals(app.farol)`. */
  stop(opts?: { reason?: string }): Promise<void>;
  /** Reads the users file (and, with `tls`, the certificate files) again now: `reloadOnSignal(app.farol)`. */
  reload(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    farol: FarolDecoration;
  }
  interface FastifyRequest {
    /** Who made the request; null only on public routes and on rejected requests. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Farol's authentication of this route (see RouteAuth). */
    auth?: RouteAuth;
  }
}

/** The health check's route: GET or HEAD of the registration's health path. */
function isHealthRoute(request: FastifyRequest, healthPath: string): boolean {
  return request.routeOptions.url === healthPath && (request.method === 'GET' || request.method === 'HEAD');
}

function isPublicRoute(request: FastifyRequest, healthPath: string): boolean {
  return request.routeOptions.config.auth?.public === true || isHealthRoute(request, healthPath);
}

function isRequestAuth(auth: FarolPluginOptions['auth']): auth is RequestAuth {
  return typeof (auth as RequestAuth).authenticateRequest === 'function';
}

/** The identity of a request in its events (an opaque object, so subscribers never hold the request). */
/**
 * A request's event facts, built once (by the first hook that needs them) and kept on the request
 * under a symbol of this module: the start, auth, error and end events of a request all share
 * them, and the object in their `request` field is the request's identity for subscribers.
 */
const EVENT_FACTS = Symbol('farol.requestEventFacts');
type WithEventFacts = FastifyRequest & { [EVENT_FACTS]: RequestEventFacts | null };

const PLUGIN_OPTIONS = new Set<string>([
  'service', 'registration', 'auth', 'consul', 'check', 'drain', 'keepRegistered', 'certificate',
  'tls', 'health', 'timeouts', 'register', 'logger', 'metrics', 'tracing',
]);
/** Options fastify itself reads from any register() call. */
const FASTIFY_REGISTER_OPTIONS = new Set<string>(['prefix', 'logLevel', 'logSerializers']);

function lifecycleOf(opts: FarolPluginOptions): ServiceRegistration {
  const unknown = Object.keys(opts).find((key) => !PLUGIN_OPTIONS.has(key) && !FASTIFY_REGISTER_OPTIONS.has(key));
  if (unknown !== undefined) {
    throw new FarolError('CONFIG_INVALID', `invalid farol plugin option ${unknown}: unknown option`, {
      hint: `the options are ${[...PLUGIN_OPTIONS].join(', ')}`,
    });
  }
  if (opts.registration !== undefined) return opts.registration;
  if (opts.service === undefined) {
    throw new FarolError('CONFIG_INVALID', 'invalid farol plugin option service: required', {
      hint: "pass service: { name: 'orders' } (the Consul service name), or a registration made by createRegistration",
    });
  }
  const certificate = opts.certificate ?? (opts.tls ? () => opts.tls!.current().keyPair.certPem : undefined);
  return createRegistration({
    service: opts.service,
    ...(opts.consul !== undefined ? { consul: opts.consul } : {}),
    ...(opts.check !== undefined ? { check: opts.check } : {}),
    ...(opts.drain !== undefined ? { drain: opts.drain } : {}),
    ...(opts.keepRegistered !== undefined ? { keepRegistered: opts.keepRegistered } : {}),
    ...(certificate !== undefined ? { certificate } : {}),
  });
}

const plugin: FastifyPluginAsync<FarolPluginOptions> = async (app, opts) => {
  const life = lifecycleOf(opts);
  const { owner, healthPath } = life;
  // Before anything is made that would have to be released.
  if (app.hasRoute({ method: 'GET', url: healthPath })) {
    throw new FarolError('CONFIG_INVALID', `invalid farol plugin option check.path: the app already serves GET ${healthPath}`, {
      hint: `give Farol's health check a path of its own, e.g. check: { path: '/_farol/health' } (Consul's check calls it; your ${healthPath} stays yours)`,
    });
  }
  const detachLog = opts.logger === undefined ? () => undefined : subscribeLogger(opts.logger, { owner, addressKey: (address) => addressKey(address) });
  const ownsAuth = !isRequestAuth(opts.auth);
  let auth: RequestAuth | undefined;
  let observation: Observation;
  try {
    auth = isRequestAuth(opts.auth)
      ? opts.auth
      : await createRequestAuth({ realm: life.name, ...opts.auth }, { owner, instance: life.instanceId });
    observation = observeService({ owner }, { metrics: opts.metrics, tracing: opts.tracing });
  } catch (error) {
    if (ownsAuth) await auth?.close();
    detachLog();
    throw error;
  }
  const stopSwapping = opts.tls ? followTlsProvider(app.server as unknown as TlsServer, opts.tls) : () => undefined;

  let healthListener: HealthListener | undefined;
  let certificateExpiry: CertificateExpiryWatch | undefined;
  let startedOk = false;
  let resolveStarted!: () => void;
  let rejectStarted!: (error: unknown) => void;
  const started = new Promise<void>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  started.catch(() => undefined);
  let draining: Promise<void> | undefined;

  const decoration: FarolDecoration = {
    owner,
    name: life.name,
    instanceId: life.instanceId,
    registration: life,
    auth,
    get draining() {
      return life.draining;
    },
    get healthPort() {
      return healthListener?.port;
    },
    started: () => started,
    drain(reason) {
      draining ??= (async () => {
        // A drain asked for while registering waits for it; an app that never listened has nothing to wait for.
        if (app.server.listening) await started.catch(() => undefined);
        await life.leave(reason);
        await app.close();
      })();
      return draining;
    },
    stop(stopOpts) {
      return decoration.drain(stopOpts?.reason);
    },
    async reload() {
      await Promise.all([auth.reload(), opts.tls?.reload()]);
    },
  };
  app.decorate('farol', decoration);
  app.decorateRequest('principal', null);

  // The events of a request (see src/events). Callback hooks: no promise per request.
  app.decorateRequest(EVENT_FACTS, null);
  const requestFacts = (request: FastifyRequest): RequestEventFacts =>
    ((request as WithEventFacts)[EVENT_FACTS] ??= {
      owner,
      service: life.name,
      instance: life.instanceId,
      request: {},
      method: request.method,
      path: pathOf(request.url),
      remoteAddress: request.ip,
    });
  app.addHook('onRequest', (request, _reply, done) => {
    if (channels.serviceRequestStart.hasSubscribers) {
      const { headers } = request;
      channels.serviceRequestStart.publish({
        ...requestFacts(request),
        header(name) {
          const lower = name.toLowerCase();
          if (CREDENTIAL_HEADERS.has(lower)) return undefined;
          const value = headers[lower];
          return Array.isArray(value) ? value.join(', ') : value;
        },
      });
    }
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (channels.serviceRequestEnd.hasSubscribers) {
      const route = request.routeOptions.url;
      const { principal } = request;
      channels.serviceRequestEnd.publish({
        ...requestFacts(request),
        route,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        principal: principal === null ? null : { id: principal.id, kind: principal.kind },
        healthProbe: isHealthRoute(request, healthPath),
      });
    }
    done();
  });
  // Runs before the app's error handler: an error that is not the caller's (not a 4xx) is an event.
  app.addHook('onError', (request, _reply, error: FastifyError, done) => {
    const status = error.statusCode;
    const callersFault = typeof status === 'number' && status >= 400 && status < 500;
    if (!callersFault && channels.serviceRequestError.hasSubscribers) {
      channels.serviceRequestError.publish({
        ...requestFacts(request),
        error: { type: error.name, message: error.message, code: error.code, stack: error.stack },
      });
    }
    done();
  });

  // Every route, unknown ones included (an anonymous caller learns nothing about which exist).
  app.addHook('onRequest', async (request, reply) => {
    if (isPublicRoute(request, healthPath)) return;
    const outcome = await auth.authenticateRequest(request.raw, { route: request.routeOptions.config.auth, facts: requestFacts(request) });
    if (outcome.ok) {
      request.principal = outcome.principal;
      return;
    }
    return reply.code(outcome.status).headers(outcome.headers).send(outcome.body);
  });

  // While draining, every response closes its connection: a pooled client then opens a new one,
  // and once the port is closed that fails cleanly (ECONNREFUSED, nothing sent) instead of a reset
  // of a kept-alive socket in the middle of a request.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (life.draining) reply.header('connection', 'close');
    done(null, payload);
  });

  app.get(healthPath, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    const answer = life.health();
    return reply.code(answer.statusCode).send(answer.body);
  });

  // Registration once the port is bound (listen() has resolved by then: app.farol.started() says when it is done).
  app.addHook('onListen', async () => {
    try {
      const bound = boundTo(app.server);
      if (opts.tls && auth.clientCertificates?.required === true) {
        healthListener = await startHealthListener({
          tls: opts.tls,
          bind: bound.address,
          port: opts.health?.port ?? 0,
          timeouts: {
            handshakeTimeoutMs: opts.timeouts?.handshakeMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
            headersTimeoutMs: opts.timeouts?.headersMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
          },
          view: life,
          path: healthPath,
        });
      }
      await life.register({ ...bound, ...(healthListener ? { healthPort: healthListener.port } : {}) }, { keepTrying: opts.register?.keepTrying ?? true });
      if (opts.tls) certificateExpiry = watchCertificateExpiry(opts.tls, { owner, instance: life.instanceId });
      startedOk = true;
      resolveStarted();
    } catch (error) {
      await healthListener?.close();
      healthListener = undefined;
      rejectStarted(error);
      throw error;
    }
  });

  // app.close(), steps 1-2 (unless drain() took them already), then fastify closes the port.
  let serverClosed: (() => void) | undefined;
  let closeOutcome: Promise<{ forced: boolean }> | undefined;
  app.addHook('preClose', async () => {
    if (startedOk) await life.leave('close');
    // Steps 3-4 are fastify's own close, right after this hook; it has ended when onClose runs.
    closeOutcome = awaitClosed(new Promise<void>((resolve) => (serverClosed = resolve)), app.server, life);
  });

  app.addHook('onClose', async () => {
    serverClosed?.();
    const { forced } = (await closeOutcome) ?? { forced: false };
    await healthListener?.close();
    stopSwapping();
    certificateExpiry?.close();
    await life.finish({ forced });
    if (ownsAuth) await auth.close();
    observation.close();
    detachLog();
  });
};

/** Registration, authentication, /health, TLS swaps and the ordered drain for an existing fastify app. */
export const farolPlugin = fp(plugin, { fastify: '5.x', name: 'farol' });
