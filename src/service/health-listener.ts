/**
 * The health listener: a second HTTPS port that serves GET/HEAD /health and nothing else, for a
 * service whose main listener demands a client certificate at the handshake. Consul's HTTPS check
 * (and the embedded registry's) presents no client certificate, so against the main port it could
 * never pass; here it needs none, and a caller without a certificate reaches nothing but the
 * health answer. Same server certificate and TLS policy as the main listener, tight timeouts, a
 * bounded number of connections.
 *
 * Node's https server rather than a second fastify instance: one route, no auth, no body.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FarolError, systemErrorCode } from '../errors.js';
import { serverSecureContext, serverTimeoutOptions, type ServerTimeouts } from '../pki/tls-policy.js';
import { listenError } from './listen-errors.js';

import { HEALTH_PATH } from './health-path.js';

export { HEALTH_PATH };
/** The health listener never waits longer than this for a handshake or a request's headers. */
export const HEALTH_TIMEOUT_MAX_MS = 5000;
/** Consul polls one connection at a time; this only bounds what an anonymous caller can hold open. */
export const HEALTH_MAX_CONNECTIONS = 64;

/** What the health answer depends on. */
export interface HealthView {
  readonly instanceId: string;
  readonly draining: boolean;
}

export interface HealthAnswer {
  statusCode: 200 | 404 | 503;
  body: Record<string, string>;
}

/** The answer to GET /health, on either listener: 200 passing, 503 while draining. */
export function healthAnswer(view: HealthView): HealthAnswer & { statusCode: 200 | 503 } {
  return view.draining
    ? { statusCode: 503, body: { status: 'draining', instance: view.instanceId } }
    : { statusCode: 200, body: { status: 'passing', instance: view.instanceId } };
}

/** The health listener's routing: GET or HEAD of the health path (any query string) gets the health answer, everything else 404. */
export function healthListenerAnswer(method: string | undefined, url: string | undefined, view: HealthView, healthPath: string = HEALTH_PATH): HealthAnswer {
  const path = (url ?? '').split('?', 1)[0];
  if ((method === 'GET' || method === 'HEAD') && path === healthPath) return healthAnswer(view);
  return { statusCode: 404, body: { error: 'not_found' } };
}

/** The server's key pair now, and news of a change: what a TlsProvider<ServerTlsState> gives. */
export interface KeyPairFeed {
  current(): { keyPair: { certPem: string; keyPem: string } };
  onChange(listener: (state: { keyPair: { certPem: string; keyPem: string } }) => void): () => void;
}

export interface HealthListenerOptions {
  /** The main listener's key pair; a change reaches new handshakes here too (open connections keep theirs). */
  tls: KeyPairFeed;
  bind: string;
  /** 0 picks a free port. */
  port: number;
  /** The main listener's bounds; the health listener uses them capped at HEALTH_TIMEOUT_MAX_MS. */
  timeouts: ServerTimeouts;
  view: HealthView;
  /** The path answered (default /health): the registration's check path. */
  path?: string;
}

export interface HealthListener {
  /** The port actually listened on. */
  readonly port: number;
  /** Stops accepting, closes every connection and stops following the key pair. Idempotent. */
  close(): Promise<void>;
}

export async function startHealthListener(opts: HealthListenerOptions): Promise<HealthListener> {
  const cap = (ms: number): number => Math.min(ms, HEALTH_TIMEOUT_MAX_MS);
  const timeouts = { handshakeTimeoutMs: cap(opts.timeouts.handshakeTimeoutMs), headersTimeoutMs: cap(opts.timeouts.headersTimeoutMs) };
  const secureContext = (state: { keyPair: { certPem: string; keyPem: string } }) =>
    serverSecureContext({ key: state.keyPair.keyPem, cert: state.keyPair.certPem });
  const server: Server = createServer(
    {
      ...secureContext(opts.tls.current()),
      ...serverTimeoutOptions(timeouts),
      requestTimeout: timeouts.headersTimeoutMs,
      maxHeaderSize: 8192,
    },
    (request: IncomingMessage, response: ServerResponse) => {
      const answer = healthListenerAnswer(request.method, request.url, opts.view, opts.path);
      const body = JSON.stringify(answer.body);
      response.writeHead(answer.statusCode, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        ...(opts.view.draining ? { connection: 'close' } : {}),
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    },
  );
  server.maxConnections = HEALTH_MAX_CONNECTIONS;
  server.keepAliveTimeout = timeouts.headersTimeoutMs;
  const unsubscribe = opts.tls.onChange((state) => server.setSecureContext(secureContext(state)));

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.bind, port: opts.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    unsubscribe();
    if (systemErrorCode(error) === 'EADDRINUSE') {
      throw new FarolError('PORT_IN_USE', `health port ${opts.port} on ${opts.bind} is already in use`, {
        hint: 'stop the other process or pick another --health-port (health.port); 0, the default, picks a free one',
        cause: error,
      });
    }
    throw listenError(error, opts.bind, opts.port);
  }
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      unsubscribe();
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
