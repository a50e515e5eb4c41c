/** Real certificates, users files and HTTPS calls for the service tests (no fakes). */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { request, type Agent } from 'undici';
import { addUser } from '../../src/auth/index.js';
import { createCertificateAuthority, issueCertificate, serverSubjectAltNames, type PemPair } from '../../src/pki/index.js';
import type { FastifyInstance } from 'fastify';
import { createService, type FarolService, type ServiceOptions } from '../../src/service/index.js';

export function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'farol-service-'));
}

export interface TestPki {
  /** The CA itself, to issue more certificates in a test. */
  ca: PemPair;
  caPem: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A test CA and a server certificate for `services` (localhost, 127.0.0.1, ::1, <service>.service.consul). */
export async function issueTestPki(dir: string, services: string[] = ['api']): Promise<TestPki> {
  const ca = await createCertificateAuthority({ commonName: 'Farol test CA' });
  const leaf = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames(services) });
  const paths = { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
  await writeFile(paths.caFile, ca.certPem);
  await writeFile(paths.certFile, leaf.certPem);
  await writeFile(paths.keyFile, leaf.keyPem, { mode: 0o600 });
  return { ca, caPem: ca.certPem, ...paths };
}

/** The original project's certificate, made exactly as its README says. */
export async function generateSeedCertificate(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await promisify(execFile)('/usr/bin/openssl', [
    'req', '-x509', '-newkey', 'rsa:4096', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '365', '-subj', '/CN=localhost',
  ]);
  return { certFile, keyFile };
}

/** Writes a certificate and key to `dir` as cert.pem and key.pem. */
export async function writeServerFiles(dir: string, leaf: PemPair): Promise<{ certFile: string; keyFile: string }> {
  const files = { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
  await writeFile(files.certFile, leaf.certPem);
  await writeFile(files.keyFile, leaf.keyPem, { mode: 0o600 });
  return files;
}

export async function writeUsers(dir: string, users: Record<string, string>): Promise<string> {
  const file = join(dir, 'users.txt');
  for (const [name, password] of Object.entries(users)) await addUser(file, name, password);
  return file;
}

export function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

/** GET over verified TLS (the agent trusts only the given CA). */
export async function httpsGet(agent: Agent, url: string, headers: Record<string, string> = {}): Promise<Response> {
  const response = await request(url, { dispatcher: agent, headers });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The JSON lines of a log file, waiting (bounded) until `ready` holds: the audit line is written
 * when the response has been sent, so it can land just after the client has read the response.
 */
export async function logLines(
  file: string,
  ready: (lines: Record<string, unknown>[]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<{ lines: Record<string, unknown>[]; raw: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const raw = await readFile(file, 'utf8').catch(() => '');
    const lines = raw
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    if (ready(lines) || Date.now() > deadline) return { lines, raw };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Whether a new TCP connection to 127.0.0.1:port is refused (the listening socket is closed). */
export function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** Polls `probe` every 25 ms until it holds; resolves to whether it did within `timeoutMs`. */
export async function until(probe: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** GET /slow?ms=N answers after N ms: a request that is still in flight when a drain begins. */
export function slowRoute(app: FastifyInstance): void {
  app.get('/slow', async (req) => {
    await sleep(Number((req.query as { ms?: string }).ms ?? '0'));
    return { done: true };
  });
}

/** Creates and starts a service from `options(overrides)`, keeping it in `running` for afterEach to stop. */
/**
 * Options for a test service with no Consul: the test PKI, a users file, logs under `dir`, and no
 * drain wait (the 3 s default is for production; tests stop many services). `get` is called at
 * each start, since the tests make these in before() hooks.
 */
export function localServiceOptions(
  get: () => { pki: TestPki; usersFile: string; dir: string },
): (overrides?: Partial<ServiceOptions>) => ServiceOptions {
  return (overrides = {}) => {
    const { pki, usersFile, dir } = get();
    return {
      name: 'api',
      port: 0,
      tls: { certFile: pki.certFile, keyFile: pki.keyFile },
      usersFile,
      consul: false,
      logFile: join(dir, 'logs', 'server-log.txt'),
      drain: { delayMs: 0 },
      ...overrides,
    };
  };
}

export function serviceStarter(
  options: (overrides: Partial<ServiceOptions>) => ServiceOptions,
  running: FarolService[],
): (overrides?: Partial<ServiceOptions>) => Promise<FarolService> {
  return async (overrides = {}) => {
    const service = await createService(options(overrides));
    running.push(service);
    await service.start();
    return service;
  };
}
