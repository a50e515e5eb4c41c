import { STATUS_CODES } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { fastify, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { authenticate, type Authenticator, type Principal } from '../auth/index.js';
import type { Logger } from '../log/logger.js';
import type { TlsMaterial } from '../pki/index.js';
import { installAuditLog, logAuthFailure, pathOf } from './audit.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request; null only on the public health route and on rejected requests. */
    principal: Principal | null;
  }
}

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
  tls: TlsMaterial;
  authenticators: Authenticator[];
  audit: Logger;
  instance: InstanceView;
}

const HEALTH_PATH = '/health';

function isPublicRoute(request: FastifyRequest): boolean {
  return request.routeOptions.url === HEALTH_PATH && (request.method === 'GET' || request.method === 'HEAD');
}

/**
 * The HTTPS fastify instance: TLS 1.2+, authentication on every route except GET /health
 * (unknown routes included, so an anonymous caller learns nothing about which exist), and
 * errors that never reach the caller with a stack trace.
 */
export function buildApp(opts: BuildAppOptions): FarolApp {
  const { instance, audit } = opts;
  const app = fastify({
    https: { key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' },
    logger: false,
    return503OnClosing: true,
  });

  app.decorateRequest('principal', null);
  installAuditLog(app, audit, instance);

  app.addHook('onRequest', async (request, reply) => {
    if (isPublicRoute(request)) return;
    const result = await authenticate(opts.authenticators, {
      headers: request.headers,
      remoteAddress: request.ip,
    });
    if (result.outcome === 'authenticated') {
      request.principal = result.principal;
      return;
    }
    const hadCredentials = request.headers.authorization !== undefined;
    if (result.outcome === 'rejected') {
      // An anonymous request is not a failed login: its access line (status 401) is enough.
      if (hadCredentials) logAuthFailure(audit, request, instance, result);
      return sendUnauthorized(reply, result.status, result.challenge, hadCredentials);
    }
    // 'absent' is only returned by a single authenticator; authenticate() turns it into a rejection.
    return sendUnauthorized(reply, 401, opts.authenticators[0]!.challenge(), false);
  });

  // While draining, every response closes its connection: a pooled client then opens a new one,
  // and once the port is closed that fails cleanly (ECONNREFUSED, nothing sent) instead of a reset
  // of a kept-alive socket in the middle of a request.
  app.addHook('onSend', async (_request, reply) => {
    if (instance.draining) reply.header('connection', 'close');
  });

  app.get(HEALTH_PATH, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    if (instance.draining) return reply.code(503).send({ status: 'draining', instance: instance.instanceId });
    return { status: 'passing', instance: instance.instanceId };
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

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) {
      audit.error(
        {
          event: 'error',
          instance: instance.instanceId,
          method: request.method,
          path: pathOf(request.url),
          err: { type: error.name, message: error.message, code: error.code, stack: error.stack },
        },
        'request failed',
      );
      return reply.code(500).send({ error: 'internal' });
    }
    return reply.code(status).send({ error: errorName(status), message: error.message });
  });

  return app;
}

function sendUnauthorized(reply: FastifyReply, status: 400 | 401, challenge: string, hadCredentials: boolean): FastifyReply {
  const message =
    status === 400 ? 'malformed Authorization header' : hadCredentials ? 'invalid credentials' : 'credentials are required';
  return reply.code(status).header('www-authenticate', challenge).send({ error: 'unauthorized', message });
}

function errorName(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z0-9]+/g, '_');
}
