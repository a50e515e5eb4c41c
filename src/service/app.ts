import { STATUS_CODES } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { fastify, type FastifyError, type FastifyInstance } from 'fastify';
import type { ServerTlsState, TlsProvider } from '../pki/index.js';
import type { ServerTimeouts } from '../pki/tls-policy.js';
import type { ServiceRegistration } from './lifecycle.js';
import { farolPlugin, type FarolPluginOptions } from './plugin.js';
import type { RequestAuth } from './request-auth.js';
import { farolHttpsOptions } from './server-tls.js';

export type { RouteAuth } from './request-auth.js';

export type FarolApp = FastifyInstance<HttpsServer>;

/** What the handlers read about the running instance; it changes as the service starts and drains. */
export interface InstanceView {
  readonly serviceName: string;
  readonly instanceId: string;
  readonly address: string;
  readonly port: number;
  readonly draining: boolean;
}

export interface BuildAppOptions {
  /** The listener's key pair and client CA; a change applies to new handshakes (server.setSecureContext). */
  tls: TlsProvider<ServerTlsState>;
  auth: RequestAuth;
  registration: ServiceRegistration;
  instance: InstanceView;
  /** Bounds on slow clients: the TLS handshake and the arrival of a request's headers. */
  timeouts: ServerTimeouts;
  health: { port: number };
  metrics: FarolPluginOptions['metrics'];
  tracing: boolean | undefined;
  /** Runs once the app is closed, after the plugin's drain has published its last event. */
  onClosed: () => Promise<void>;
}

/**
 * createService's app: a fastify instance over Farol's TLS with the Farol plugin, plus what a
 * standalone service answers on its own (GET /, a 404 and error bodies that never carry a stack
 * trace). Requests during the drain wait are served (return503OnClosing: false), each closing its
 * connection.
 */
export async function buildApp(opts: BuildAppOptions): Promise<FarolApp> {
  const { instance } = opts;
  const app = fastify({
    https: farolHttpsOptions(opts.tls, { clientCertificatesRequired: opts.auth.clientCertificates?.required === true, timeouts: opts.timeouts }),
    logger: false,
    return503OnClosing: false,
  });
  // onClose hooks run last-registered first: this one, added before the plugin's, runs after it.
  app.addHook('onClose', async () => opts.onClosed());
  await app.register(farolPlugin, {
    registration: opts.registration,
    auth: opts.auth,
    tls: opts.tls,
    health: opts.health,
    timeouts: { handshakeMs: opts.timeouts.handshakeTimeoutMs, headersMs: opts.timeouts.headersTimeoutMs },
    register: { keepTrying: false },
    metrics: opts.metrics,
    ...(opts.tracing !== undefined ? { tracing: opts.tracing } : {}),
  });

  app.get('/', async (request) => ({
    service: instance.serviceName,
    instance: instance.instanceId,
    user: request.principal?.id ?? null,
    address: instance.address,
    port: instance.port,
    time: new Date().toISOString(),
  }));

  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ error: 'not_found' }));

  // The plugin's onError hook has published the error event.
  app.setErrorHandler(async (error: FastifyError, _request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) return reply.code(500).send({ error: 'internal' });
    return reply.code(status).send({ error: errorName(status), message: error.message });
  });

  return app;
}

function errorName(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z0-9]+/g, '_');
}
