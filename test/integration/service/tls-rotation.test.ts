/**
 * Certificates rotated under load, against a real Consul agent: a service registered in Consul and
 * a Farol client calling it continuously on keep-alive pools (about 30 calls a second, bounded in
 * time) while (a) the server certificate is replaced on disk by a new leaf of the same CA, and (b)
 * the client's CA bundle gains a new CA, the server moves to a leaf of that CA, and the old CA is
 * dropped from the bundle. No call may fail; `openssl s_client` must see the new serial within 2 s.
 */
import { after, afterEach, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { basicCredentials } from '../../../src/auth/index.js';
import { createClient, type FarolClient } from '../../../src/client/index.js';
import { createCertificateAuthority, issueCertificate, serverSubjectAltNames, type PemPair } from '../../../src/pki/index.js';
import { type FarolService, type ServiceOptions } from '../../../src/service/index.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { logLines, serviceStarter, tempDir, until, writeUsers } from '../../service/fixtures.js';

const password = 'correct horse battery staple';
const CALLS_PER_SECOND = 30;
const MAX_LOAD_MS = 15_000;
const SERIAL_DEADLINE_MS = 2000;

let dir: string;
let usersFile: string;
let oldCa: PemPair;
let newCa: PemPair;

const leafOf = (ca: PemPair) => issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames(['api']) });
const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;

/** As an operator's `mv` does: the new content under a temporary name, renamed over the file. */
async function replaceFile(file: string, content: string): Promise<void> {
  await writeFile(`${file}.new`, content);
  await rename(`${file}.new`, file);
}

/** The serial of the certificate the listener presents to a new handshake, as openssl s_client sees it. */
function presentedSerial(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = execFile(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost'],
      { timeout: 3000 },
      (_error, stdout) => {
        const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(stdout)?.[0];
        resolve(pem === undefined ? undefined : serialOf(pem));
      },
    );
    child.stdin?.end(); // </dev/null
  });
}

interface Load {
  stop(): Promise<{ calls: number; failures: string[] }>;
}

/** About CALLS_PER_SECOND calls a second until stopped, or MAX_LOAD_MS at most. */
function startLoad(client: FarolClient): Load {
  let stopped = false;
  let calls = 0;
  const failures: string[] = [];
  const began = performance.now();
  const inFlight = new Set<Promise<void>>();
  const loop = (async () => {
    while (!stopped && performance.now() - began < MAX_LOAD_MS) {
      const call = client.call('api', { path: '/' }).then(
        (result) => {
          calls += 1;
          if (result.status !== 200) failures.push(`HTTP ${result.status}`);
        },
        (error: Error & { code?: string }) => {
          calls += 1;
          failures.push(`${error.code ?? 'error'}: ${error.message}`);
        },
      );
      const tracked = call.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      await sleep(1000 / CALLS_PER_SECOND);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await Promise.all([...inFlight]);
      return { calls, failures };
    },
  };
}

before(async () => {
  dir = await tempDir();
  usersFile = await writeUsers(dir, { alice: password });
  [oldCa, newCa] = await Promise.all([createCertificateAuthority({ commonName: 'Farol old CA' }), createCertificateAuthority({ commonName: 'Farol new CA' })]);
  // Consul's HTTPS check verifies the service with both CAs throughout.
  await writeFile(join(dir, 'agent-cas.pem'), `${oldCa.certPem}\n${newCa.certPem}`);
});

after(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describeWithConsul('TLS rotation under load, with a real Consul', (getAgent) => {
  const running: FarolService[] = [];
  const clients: FarolClient[] = [];
  let serverDir: string;
  let certFile: string;
  let keyFile: string;
  let bundleFile: string;
  let clientLog: string;
  let round = 0;

  const options = (overrides: Partial<ServiceOptions>): ServiceOptions => ({
    name: 'api',
    port: 0,
    tls: { certFile, keyFile },
    usersFile,
    consul: { address: getAgent().address, timeoutMs: 2000 },
    logFile: join(serverDir, 'server-log.txt'),
    check: { interval: '1s', timeout: '1s' },
    drain: { delayMs: 0 },
    ...overrides,
  });
  const started = serviceStarter(options, running);

  /** Fresh files for one test: the server's pair from the old CA, the client's bundle of the old CA. */
  async function setUp(): Promise<{ service: FarolService; client: FarolClient; first: PemPair }> {
    round += 1;
    serverDir = join(dir, `round-${round}`);
    await mkdir(serverDir);
    certFile = join(serverDir, 'cert.pem');
    keyFile = join(serverDir, 'key.pem');
    bundleFile = join(serverDir, 'ca-bundle.pem');
    clientLog = join(serverDir, 'client-log.txt');
    const first = await leafOf(oldCa);
    await writeFile(certFile, first.certPem);
    await writeFile(keyFile, first.keyPem, { mode: 0o600 });
    await writeFile(bundleFile, oldCa.certPem);
    const service = await started({});
    const client = createClient({
      consul: { address: getAgent().address },
      tls: { ca: { file: bundleFile } },
      credentials: basicCredentials('alice', password),
      logFile: clientLog,
      timeoutMs: 5000,
      retries: 0,
    });
    clients.push(client);
    const reachable = await until(async () => (await client.call('api').catch(() => undefined))?.status === 200, 15_000);
    assert.ok(reachable, 'the service is passing in Consul and answers the client');
    return { service, client, first };
  }

  /** Polls openssl until the listener presents `serial`; the delay since `since`, or undefined. */
  async function serialSeenAfter(port: number, serial: string, since: number): Promise<number | undefined> {
    const deadline = since + 5000;
    while (performance.now() < deadline) {
      if ((await presentedSerial(port)) === serial) return Math.round(performance.now() - since);
      await sleep(50);
    }
    return undefined;
  }

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(running.splice(0).map((service) => service.stop()));
  });

  it('(a) a new leaf of the same CA replaces the certificate: 0 failed calls, and new handshakes see it within 2 s', async (t) => {
    const { service, client, first } = await setUp();
    assert.equal(await presentedSerial(service.port), serialOf(first.certPem));
    const load = startLoad(client);
    await sleep(1000);

    const next = await leafOf(oldCa);
    await replaceFile(keyFile, next.keyPem);
    await replaceFile(certFile, next.certPem);
    const written = performance.now();
    const delayMs = await serialSeenAfter(service.port, serialOf(next.certPem), written);

    await sleep(1000);
    const { calls, failures } = await load.stop();
    t.diagnostic(`new serial seen by openssl s_client ${delayMs ?? 'never'} ms after the file write; ${calls} calls, ${failures.length} failed`);
    assert.ok(delayMs !== undefined && delayMs <= SERIAL_DEADLINE_MS, `openssl saw the new serial after ${delayMs ?? 'never'} ms`);
    assert.deepEqual(failures, []);
    assert.ok(calls >= CALLS_PER_SECOND, `the load ran (${calls} calls)`);
  });

  it('(b) the CA bundle gains a new CA, the server moves to it, the old CA is dropped: 0 failed calls', async (t) => {
    const { service, client } = await setUp();
    const load = startLoad(client);
    await sleep(700);

    await replaceFile(bundleFile, `${oldCa.certPem}\n${newCa.certPem}`);
    await logLines(clientLog, (lines) => lines.filter((line) => line.event === 'tls_reloaded').length >= 1, 3000);
    await sleep(500);

    const moved = await leafOf(newCa);
    await replaceFile(keyFile, moved.keyPem);
    await replaceFile(certFile, moved.certPem);
    const written = performance.now();
    const delayMs = await serialSeenAfter(service.port, serialOf(moved.certPem), written);
    await sleep(500);

    await replaceFile(bundleFile, newCa.certPem);
    const { lines } = await logLines(clientLog, (all) => all.filter((line) => line.event === 'tls_reloaded').length >= 2, 3000);
    await sleep(1000);
    const { calls, failures } = await load.stop();
    t.diagnostic(`server on the new CA's leaf ${delayMs ?? 'never'} ms after the write; ${calls} calls, ${failures.length} failed`);

    assert.equal(lines.filter((line) => line.event === 'tls_reloaded').length, 2, 'the client took both bundles');
    assert.ok(delayMs !== undefined && delayMs <= SERIAL_DEADLINE_MS, `openssl saw the new serial after ${delayMs ?? 'never'} ms`);
    assert.deepEqual(failures, []);
    // After the old CA is gone, a new connection verifies the server against the new CA alone.
    const after = await client.call('api');
    assert.equal(after.status, 200);
  });
}, () => ({ caFile: join(dir, 'agent-cas.pem') }));
