/**
 * startRegistry: the catalog, the check runner and the HTTP API on a node:http server.
 * node:http rather than fastify: Consul answers errors as bare text/plain, 404/405 with its
 * own texts, and holds blocking queries for minutes; a framework's JSON error handling,
 * body parsing and timeouts would all have to be switched off to say the same thing.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { FarolError, systemErrorCode } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { RegistryApi } from './router.js';
import { IndexWaiters } from './blocking.js';
import { Catalog } from './catalog.js';
import { CheckRunner } from './checks.js';
import { networkProbe } from './probes.js';

export interface RegistryOptions {
  /** Default 8500; 0 = ephemeral. */
  port?: number;
  /** Default 127.0.0.1. */
  bind?: string;
  /** ACL: when set, every request needs it (X-Consul-Token or Authorization: Bearer), refused as Consul refuses. */
  token?: string;
  /** CA for HTTPS health checks (verification always on). */
  caFile?: string;
  /** Default os.hostname(). */
  nodeName?: string;
  /** Default 'dc1'. */
  datacenter?: string;
  logger?: Logger;
}

export interface RunningRegistry {
  /** 127.0.0.1:PORT */
  readonly address: string;
  /** http://127.0.0.1:PORT */
  readonly httpAddr: string;
  readonly port: number;
  close(): Promise<void>;
}

export const DEFAULT_REGISTRY_PORT = 8500;
export const DEFAULT_REGISTRY_BIND = '127.0.0.1';
/**
 * Consul sets no body limit on agent writes (a 2 MB registration is accepted); this bound only
 * keeps one request from exhausting memory. Larger bodies are refused with 413.
 */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** A stable node ID derived from the node name, shaped like Consul's UUIDs. */
function nodeIdFor(name: string): string {
  const hex = createHash('sha256').update(`farol-registry:${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function advertised(bind: string): string {
  return bind === '0.0.0.0' || bind === '::' || bind === '' ? '127.0.0.1' : bind;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<RunningRegistry> {
  const logger = opts.logger ?? silentLogger();
  const bind = opts.bind ?? DEFAULT_REGISTRY_BIND;
  const requestedPort = opts.port ?? DEFAULT_REGISTRY_PORT;
  const ca = opts.caFile === undefined ? undefined : await readCa(opts.caFile);
  const nodeName = opts.nodeName ?? hostname();
  const nodeAddress = advertised(bind);
  const catalog = new Catalog({ id: nodeIdFor(nodeName), name: nodeName, address: nodeAddress, datacenter: opts.datacenter ?? 'dc1' });
  const waiters = new IndexWaiters();
  const runner = new CheckRunner({ catalog, probe: networkProbe(ca), logger });
  const unsubscribe = catalog.onChange((change) => {
    if (change.kind === 'check-updated') {
      const check = catalog.getCheck(change.checkId);
      if (check) logger.info({ event: 'check_status', check: check.checkId, service: check.serviceId, status: check.status, output: check.output.slice(0, 200) }, 'check status changed');
    } else {
      logger.info({ event: change.kind === 'service-registered' ? 'service_registered' : 'service_deregistered', service: change.serviceId }, change.kind);
    }
  });
  const api = new RegistryApi({ catalog, waiters, runner, token: opts.token, serverAddress: `${nodeAddress}:8300` });

  const server = createServer((req, res) => void serve(api, logger, req, res));
  server.keepAliveTimeout = 30_000;
  server.requestTimeout = 0; // blocking queries hold for up to 10m + jitter
  server.headersTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => {
      const code = systemErrorCode(error);
      if (code === 'EADDRINUSE') {
        reject(
          new FarolError('PORT_IN_USE', `port ${requestedPort} on ${bind} is already in use`, {
            hint: `stop what is listening there (a Consul agent?) or pass another --port (0 picks a free one)`,
            cause: error,
          }),
        );
      } else {
        reject(new FarolError('LISTEN_FAILED', `cannot listen on ${bind}:${requestedPort}: ${(error as Error).message}`, { hint: 'check --bind and --port', cause: error }));
      }
    });
    server.listen(requestedPort, bind, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = bind.includes(':') ? `[${bind}]` : bind;
  const address = `${host}:${port}`;
  logger.info({ event: 'registry_started', address, node: nodeName, acl: opts.token !== undefined }, 'registry listening');

  let closing: Promise<void> | undefined;
  return {
    address,
    httpAddr: `http://${address}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        unsubscribe();
        api.close();
        runner.stop();
        waiters.wakeAll();
        server.close(() => resolve());
        server.closeAllConnections();
        logger.info({ event: 'registry_stopped', address }, 'registry stopped');
      });
      return closing;
    },
  };
}

async function readCa(caFile: string): Promise<string> {
  try {
    return await readFile(caFile, 'utf8');
  } catch (error) {
    throw new FarolError('CERT_MISSING', `cannot read the CA file ${caFile} for HTTPS health checks`, {
      hint: 'pass --ca with the CA that issued your services\' certificates (e.g. certs/ca.pem from `farol certs init`)',
      cause: error,
    });
  }
}

/** Header names as Go's net/http writes them ("X-Consul-Knownleader"), for clients that compare case-sensitively. */
function canonicalHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())] = value;
  }
  return out;
}

async function serve(api: RegistryApi, logger: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  try {
    let bodyBytes: Buffer;
    try {
      bodyBytes = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
        res.end(`Request body too large: the limit is ${MAX_BODY_BYTES} bytes`);
        return;
      }
      throw error;
    }
    const answer = await api.handle({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: bodyBytes.toString('utf8'), bodyBytes, signal: controller.signal });
    if (res.destroyed) return;
    res.writeHead(answer.status, canonicalHeaders({ ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) }));
    res.end(answer.body);
    logger.debug({ event: 'request', method: req.method, path: req.url?.split('?')[0], status: answer.status, latencyMs: Date.now() - started });
  } catch (error) {
    logger.error({ event: 'request_failed', method: req.method, path: req.url?.split('?')[0], err: error }, 'request failed');
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end((error as Error).message);
    }
  }
}
