import { STATUS_CODES } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { fastify, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { authenticate, authorize, bearerChallenge, peerTlsOf, type AccessRequirement, type AuthResult, type Authenticator, type PeerTls, type Principal } from '../auth/index.js';
import { channels, CREDENTIAL_HEADERS, type EventOwner } from '../events/channels.js';
import type { ServerTlsState, TlsProvider } from '../pki/index.js';
import { serverSecureContext, serverTimeoutOptions, type ServerTimeouts } from '../pki/tls-policy.js';
import { createConnectionAuth } from './connection-auth.js';
import { HEALTH_PATH, healthAnswer } from './health-listener.js';

/**
 * A route's own authentication and authorization, as fastify route config:
 * `app.get('/orders', { config: { auth: { require: { scopes: ['orders:read'] } } } }, handler)`.
 */
export interface RouteAuth {
  /** No authentication at all (like GET /health). */
  public?: boolean;
  /** Replaces the service's authenticators on this route (e.g. certificates only). */
  authenticators?: Authenticator[];
  /** Must be met on top of the service-wide requirement. */
  require?: AccessRequirement;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request; null only on public routes and on rejected requests. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    auth?: RouteAuth;
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
  /** The listener's key pair and client CA; a change applies to new handshakes (server.setSecureContext). */
  tls: TlsProvider<ServerTlsState>;
  authenticators: Authenticator[];
  /** What every route demands of an authenticated caller (a route may demand more). */
  require?: AccessRequirement;
  /**
   * Ask callers for a TLS client certificate, verified against the provider's client CA. `required`: a caller without
   * a trusted one fails the handshake. Otherwise a certificate is optional and the chain's verdict
   * goes to the certificate authenticator, which refuses an untrusted one with 401; callers may
   * then authenticate with a header instead.
   */
  clientCertificates?: { required: boolean };
  /** Whose events the app publishes (requests, authentication outcomes): the service's. */
  owner: EventOwner;
  instance: InstanceView;
  /** Bounds on slow clients: the TLS handshake and the arrival of a request's headers. */
  timeouts: ServerTimeouts;
  /** Goes up when remembered authentications may no longer hold (a users file reload); default: never. */
  credentialsGeneration?: () => number;
}

function isPublicRoute(request: FastifyRequest): boolean {
  if (request.routeOptions.config.auth?.public === true) return true;
  return request.routeOptions.url === HEALTH_PATH && (request.method === 'GET' || request.method === 'HEAD');
}

/** The request path without its query string, which can carry secrets. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/** The identity of a request in its events (an opaque object, so subscribers never hold the request). */
const requestRefs = new WeakMap<FastifyRequest, object>();

function requestRef(request: FastifyRequest): object {
  let ref = requestRefs.get(request);
  if (ref === undefined) {
    ref = {};
    requestRefs.set(request, ref);
  }
  return ref;
}

/** The scheme a caller tried, bounded to the ones Farol knows (a metric label). */
function schemeOf(authorization: string | undefined, certificate: boolean): string | undefined {
  if (authorization !== undefined) {
    const scheme = authorization.trimStart().split(/\s/, 1)[0]?.toLowerCase();
    return scheme === 'basic' || scheme === 'bearer' ? scheme : 'other';
  }
  return certificate ? 'certificate' : undefined;
}

const SCHEME_OF_PRINCIPAL: Record<Principal['kind'], string> = { user: 'basic', token: 'bearer', certificate: 'certificate' };

// Parsing the peer certificate costs more than the rest of the hook: once per connection.
const peerTlsBySocket = new WeakMap<TLSSocket, PeerTls>();

function peerTls(request: FastifyRequest): PeerTls {
  const socket = request.raw.socket as TLSSocket;
  let peer = peerTlsBySocket.get(socket);
  if (peer === undefined) {
    peer = peerTlsOf(socket);
    peerTlsBySocket.set(socket, peer);
  }
  return peer;
}

/**
 * The HTTPS fastify instance: TLS 1.2+, authentication on every route except GET /health
 * (unknown routes included, so an anonymous caller learns nothing about which exist), and
 * errors that never reach the caller with a stack trace.
 */
export function buildApp(opts: BuildAppOptions): FarolApp {
  const { instance, owner } = opts;
  const clientCerts = opts.clientCertificates;
  const secureContext = (state: ServerTlsState) =>
    serverSecureContext({ key: state.keyPair.keyPem, cert: state.keyPair.certPem, ...(clientCerts && state.clientCa ? { ca: state.clientCa.pem } : {}) });
  const app = fastify({
    https: {
      ...secureContext(opts.tls.current()),
      ...(clientCerts ? { requestCert: true, rejectUnauthorized: clientCerts.required } : {}),
      ...serverTimeoutOptions(opts.timeouts),
    },
    logger: false,
    return503OnClosing: true,
  });

  // New handshakes get the new material; open connections keep theirs.
  const stopSwapping = opts.tls.onChange((state) => app.server.setSecureContext(secureContext(state)));
  app.addHook('onClose', (_instance, done) => {
    stopSwapping();
    done();
  });

  app.decorateRequest('principal', null);

  // The events of a request (see src/events). A callback hook: no promise per request.
  const requestFacts = (request: FastifyRequest) => ({
    owner,
    service: instance.serviceName,
    instance: instance.instanceId,
    request: requestRef(request),
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
        healthProbe: route === HEALTH_PATH && (request.method === 'GET' || request.method === 'HEAD'),
      });
    }
    done();
  });

  const connectionAuth = createConnectionAuth(undefined, undefined, opts.credentialsGeneration);

  app.addHook('onRequest', async (request, reply) => {
    if (isPublicRoute(request)) return;
    const routeAuth = request.routeOptions.config.auth;
    const authenticators = routeAuth?.authenticators ?? opts.authenticators;
    const { authorization } = request.headers;
    const connection = request.raw.socket;
    const remembered = connectionAuth.principalOf(connection, authenticators, authorization);
    const result: AuthResult = remembered
      ? { outcome: 'authenticated', principal: remembered }
      : await authenticate(authenticators, {
          headers: request.headers,
          remoteAddress: request.ip,
          ...(clientCerts ? { tls: peerTls(request) } : {}),
        });
    if (result.outcome === 'authenticated') {
      const { principal } = result;
      if (!remembered) connectionAuth.remember(connection, authenticators, authorization, principal);
      const decision = authorize(principal, opts.require, routeAuth?.require);
      if (decision.allowed) {
        request.principal = principal;
        if (channels.authOutcome.hasSubscribers) {
          channels.authOutcome.publish({ ...requestFacts(request), outcome: 'authenticated', scheme: SCHEME_OF_PRINCIPAL[principal.kind], principal: principal.id, remembered: remembered !== undefined });
        }
        return;
      }
      if (channels.authOutcome.hasSubscribers) {
        channels.authOutcome.publish({
          ...requestFacts(request),
          outcome: 'forbidden',
          status: 403,
          scheme: SCHEME_OF_PRINCIPAL[principal.kind],
          reason: decision.reason,
          principal: principal.id,
          principalKind: principal.kind,
        });
      }
      return sendForbidden(reply, principal, decision.missingScopes, instance.serviceName);
    }
    if (result.outcome === 'limited') {
      if (channels.authOutcome.hasSubscribers) {
        channels.authOutcome.publish({ ...requestFacts(request), outcome: 'limited', status: 429, reason: result.reason, retryAfterSec: result.retryAfterSec });
      }
      return reply
        .code(429)
        .header('retry-after', String(result.retryAfterSec))
        .send({ error: 'too_many_requests', message: `too many failed logins: try again in ${result.retryAfterSec} s` });
    }
    const hadCredentials = authorization !== undefined || (clientCerts !== undefined && peerTls(request).peerCertificate !== undefined);
    if (result.outcome === 'rejected') {
      if (channels.authOutcome.hasSubscribers) {
        channels.authOutcome.publish({
          ...requestFacts(request),
          outcome: 'rejected',
          scheme: schemeOf(authorization, clientCerts !== undefined && peerTls(request).peerCertificate !== undefined),
          status: result.status,
          reason: result.reason,
          username: result.username ?? null,
          hadCredentials,
        });
      }
      return sendUnauthorized(reply, result.status, result.challenge, hadCredentials);
    }
    // 'absent' is only returned by a single authenticator; authenticate() turns it into a rejection.
    return sendUnauthorized(reply, 401, '', false);
  });

  // While draining, every response closes its connection: a pooled client then opens a new one,
  // and once the port is closed that fails cleanly (ECONNREFUSED, nothing sent) instead of a reset
  // of a kept-alive socket in the middle of a request.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (instance.draining) reply.header('connection', 'close');
    done(null, payload);
  });

  app.get(HEALTH_PATH, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    const answer = healthAnswer(instance);
    return reply.code(answer.statusCode).send(answer.body);
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
      if (channels.serviceRequestError.hasSubscribers) {
        channels.serviceRequestError.publish({
          ...requestFacts(request),
          error: { type: error.name, message: error.message, code: error.code, stack: error.stack },
        });
      }
      return reply.code(500).send({ error: 'internal' });
    }
    return reply.code(status).send({ error: errorName(status), message: error.message });
  });

  return app;
}

function sendUnauthorized(reply: FastifyReply, status: 400 | 401, challenge: string, hadCredentials: boolean): FastifyReply {
  const message =
    status === 400 ? 'malformed Authorization header' : hadCredentials ? 'invalid credentials' : 'credentials are required';
  if (challenge !== '') reply.header('www-authenticate', challenge);
  return reply.code(status).send({ error: 'unauthorized', message });
}

/**
 * 403: authenticated, not allowed. A token caller gets RFC 6750's insufficient_scope challenge
 * naming the scopes it lacks, so its OAuth2 client knows what to ask for.
 */
function sendForbidden(reply: FastifyReply, principal: Principal, missingScopes: string[], realm: string): FastifyReply {
  if (principal.kind === 'token' && missingScopes.length > 0) {
    reply.header('www-authenticate', bearerChallenge({ realm, error: 'insufficient_scope', scope: missingScopes }));
  }
  return reply.code(403).send({ error: 'forbidden', message: 'authenticated, but not allowed to use this route' });
}

function errorName(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z0-9]+/g, '_');
}
