// Helpers for the client and `farol call` tests: real HTTPS servers on loopback with
// certificates from a test CA, and instances registered in a real Consul agent.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsulClient } from '../../src/consul/index.js';
import { createCertificateAuthority, issueCertificate, type PemPair } from '../../src/pki/index.js';

export interface TestPki {
  ca: PemPair;
  /** A server certificate for localhost and 127.0.0.1, signed by `ca`. */
  server: PemPair;
}

export async function createTestPki(): Promise<TestPki> {
  const ca = await createCertificateAuthority({ commonName: 'Farol client test CA' });
  const server = await issueCertificate(ca, {
    commonName: 'localhost',
    usage: 'server',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  return { ca, server };
}

export interface RecordedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
  /** The common name of the client certificate the caller presented (servers that require one). */
  clientCertificateCn: string | undefined;
}

export interface TestServer {
  port: number;
  /** Requests that reached the handler. */
  requests: RecordedRequest[];
  /** TCP connections currently open. */
  openConnections(): number;
  close(): Promise<void>;
}

export type TestHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/**
 * A plain node:https server on 127.0.0.1:0 that records what reaches its handler. With
 * `requireClientCertificate`, it demands (mutual TLS) a client certificate signed by that CA.
 */
export async function startHttpsServer(pair: PemPair, handler: TestHandler, opts: { requireClientCertificate?: { ca: string } } = {}): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const mutual = opts.requireClientCertificate ? { requestCert: true, rejectUnauthorized: true, ca: opts.requireClientCertificate.ca } : {};
  const server: Server = createHttpsServer({ cert: pair.certPem, key: pair.keyPem, ...mutual }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const clientCertificateCn = typeof peer?.subject?.CN === 'string' ? peer.subject.CN : undefined;
      requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body, clientCertificateCn });
      handler(req, res, body);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A failed handshake is expected in some tests; it must not crash the server.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    openConnections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers 200 with `{ instance }` as JSON. */
export function answerWithInstance(instance: string): TestHandler {
  return (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ instance }));
  };
}

export interface RegisteredInstance {
  id: string;
  checkId: string;
  deregister(): Promise<void>;
}

/** Registers an instance at 127.0.0.1:port with a TTL check set to `status`. */
export async function registerInstance(
  consul: ConsulClient,
  opts: { service: string; id: string; port: number; status: 'passing' | 'critical'; address?: string },
): Promise<RegisteredInstance> {
  const checkId = `${opts.id}-ttl`;
  await consul.agent.registerService({
    ID: opts.id,
    Name: opts.service,
    Address: opts.address ?? '127.0.0.1',
    Port: opts.port,
    Tags: ['test'],
    Check: { CheckID: checkId, Name: 'test TTL', TTL: '10m' },
  });
  await consul.agent.updateTTL(checkId, opts.status, `set by the test: ${opts.status}`);
  return { id: opts.id, checkId, deregister: () => consul.agent.deregisterService(opts.id) };
}

/** Waits (bounded) until Consul's catalog shows `registered` instances of which `passing` pass. */
export async function waitForHealth(consul: ConsulClient, service: string, want: { registered: number; passing: number }): Promise<void> {
  let last = '';
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const all = await consul.health.service(service);
    const passing = await consul.health.service(service, { passing: true });
    if (all.entries.length === want.registered && passing.entries.length === want.passing) return;
    last = `${all.entries.length} registered, ${passing.entries.length} passing`;
    await sleep(50);
  }
  throw new Error(`Consul never showed ${want.registered} registered / ${want.passing} passing for ${service} (last: ${last})`);
}

/** Waits (bounded) until `predicate` holds. */
export async function eventually(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

/** A loopback port with nothing listening on it: bound, then released. */
export async function closedLoopbackPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function makeTempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'farol-client-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function uniqueServiceName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}
