import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { FarolError, systemErrorCode } from '../errors.js';

export const DEFAULT_METRICS_HOST = '127.0.0.1';
export const METRICS_PATH = '/metrics';

export interface ServeMetricsOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1: metrics say a lot about a fleet, so they stay on loopback unless asked. */
  host?: string;
}

export interface MetricsServer {
  readonly port: number;
  /** http://<host>:<port>/metrics */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `registry` at GET /metrics over plain HTTP, as Prometheus scrapes it. A plain node:http
 * server rather than a second fastify: one route, no auth, and nothing a framework would add.
 */
export async function serveMetrics(registry: Registry, options: ServeMetricsOptions): Promise<MetricsServer> {
  const host = options.host ?? DEFAULT_METRICS_HOST;
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== METRICS_PATH) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: metrics are at ${METRICS_PATH}\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics unavailable: ${(error as Error).message}\n`);
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw metricsListenError(error, host, options.port);
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `http://${shownHost}:${port}${METRICS_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function metricsListenError(error: unknown, host: string, port: number): FarolError {
  const code = systemErrorCode(error);
  if (code === 'EADDRINUSE') {
    return new FarolError('PORT_IN_USE', `metrics port ${port} on ${host} is already in use`, {
      hint: 'pick another --metrics-port (0 picks a free one)',
      cause: error,
    });
  }
  return new FarolError('LISTEN_FAILED', `cannot serve metrics on ${host}:${port} (${code ?? (error as Error).message})`, {
    hint: '--metrics-bind takes an address of this machine (default 127.0.0.1); --metrics-port a port from 0 to 65535',
    cause: error,
  });
}
