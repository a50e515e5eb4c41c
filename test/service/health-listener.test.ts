/**
 * The health listener: GET/HEAD /health and nothing else, over verified TLS with no client
 * certificate, following the server's certificate as it changes, bounded against slow clients.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { connect as tcpConnect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from 'undici';
import { createCertificateAuthority, issueCertificate, serverSubjectAltNames, type PemPair } from '../../src/pki/index.js';
import { isFarolError } from '../../src/errors.js';
import {
  healthAnswer,
  healthListenerAnswer,
  startHealthListener,
  type HealthListener,
  type KeyPairFeed,
} from '../../src/service/health-listener.js';
import { createService } from '../../src/service/index.js';
import { issueTestPki, refusesConnections, tempDir, until, writeServerFiles } from './fixtures.js';

type State = { keyPair: { certPem: string; keyPem: string } };

/** A key pair that a test can change, as a TLS provider would after a rotation. */
function feedOf(pair: PemPair): KeyPairFeed & { change(next: PemPair): void } {
  let state: State = { keyPair: { certPem: pair.certPem, keyPem: pair.keyPem } };
  const listeners = new Set<(state: State) => void>();
  return {
    current: () => state,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    change(next) {
      state = { keyPair: { certPem: next.certPem, keyPem: next.keyPem } };
      for (const listener of listeners) listener(state);
    },
  };
}

const view = { instanceId: 'api-1234abcd', draining: false };
const timeouts = { handshakeTimeoutMs: 15_000, headersTimeoutMs: 15_000 };

describe("the health listener's answers", () => {
  it('answers GET and HEAD of /health, with any query string, as the main listener does', () => {
    assert.deepEqual(healthListenerAnswer('GET', '/health', view), { statusCode: 200, body: { status: 'passing', instance: 'api-1234abcd' } });
    assert.deepEqual(healthListenerAnswer('HEAD', '/health', view), healthAnswer(view));
    assert.deepEqual(healthListenerAnswer('GET', '/health?probe=consul', view), healthAnswer(view));
  });

  it('answers the check path it was given (check.path) instead of /health, and then 404 to /health', () => {
    assert.deepEqual(healthListenerAnswer('GET', '/_farol/health?probe=consul', view, '/_farol/health'), healthAnswer(view));
    assert.equal(healthListenerAnswer('GET', '/health', view, '/_farol/health').statusCode, 404);
  });

  it('answers 503 while draining', () => {
    assert.deepEqual(healthListenerAnswer('GET', '/health', { ...view, draining: true }), {
      statusCode: 503,
      body: { status: 'draining', instance: 'api-1234abcd' },
    });
  });

  it('answers 404 to every other method and path, so nothing else is reachable', () => {
    for (const [method, url] of [
      ['POST', '/health'],
      ['PUT', '/health'],
      ['DELETE', '/health'],
      ['OPTIONS', '/health'],
      ['GET', '/'],
      ['GET', '/health/'],
      ['GET', '/healthz'],
      ['GET', '/orders'],
      ['GET', '//health'],
      [undefined, undefined],
    ] as const) {
      assert.deepEqual(healthListenerAnswer(method, url, view), { statusCode: 404, body: { error: 'not_found' } }, `${method} ${url}`);
    }
  });
});

describe('the health listener on a socket', () => {
  let ca: PemPair;
  let first: PemPair;
  let second: PemPair;
  let feed: ReturnType<typeof feedOf>;
  let listener: HealthListener;
  let agent: Agent;
  const state = { instanceId: 'api-1234abcd', draining: false };

  before(async () => {
    ca = await createCertificateAuthority({ commonName: 'health listener test CA' });
    first = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames(['api']) });
    second = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames(['api']) });
    feed = feedOf(first);
    listener = await startHealthListener({ tls: feed, bind: '127.0.0.1', port: 0, timeouts, view: state });
    agent = new Agent({ connect: { ca: ca.certPem }, pipelining: 0 });
  });

  after(async () => {
    await agent.close();
    await listener.close();
  });

  const get = async (method: 'GET' | 'HEAD' | 'POST', path: string) => {
    const response = await request(`https://127.0.0.1:${listener.port}${path}`, { method, dispatcher: agent });
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
  };

  it('serves /health over verified TLS to a caller without a client certificate', async () => {
    const response = await get('GET', '/health');
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.text), { status: 'passing', instance: 'api-1234abcd' });
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.match(String(response.headers['content-type']), /^application\/json/);
  });

  it('answers HEAD without a body, and 404 to anything else', async () => {
    const head = await get('HEAD', '/health');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal((await get('GET', '/')).status, 404);
    assert.equal((await get('POST', '/health')).status, 404);
    assert.deepEqual(JSON.parse((await get('GET', '/orders')).text), { error: 'not_found' });
  });

  it('answers 503 once the instance drains', async () => {
    state.draining = true;
    try {
      assert.equal((await get('GET', '/health')).status, 503);
    } finally {
      state.draining = false;
    }
  });

  it('offers only TLS 1.2 and up', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: listener.port, ca: ca.certPem, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', reject);
      }),
    );
  });

  it('presents a changed certificate to new handshakes', async () => {
    const serialOf = (pair: PemPair) => new X509Certificate(pair.certPem).serialNumber;
    const peerSerial = () =>
      new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: listener.port, ca: ca.certPem }, () => {
          const serial = socket.getPeerX509Certificate()?.serialNumber ?? '';
          socket.destroy();
          resolve(serial);
        });
        socket.once('error', reject);
      });
    assert.equal(await peerSerial(), serialOf(first));
    feed.change(second);
    assert.equal(await peerSerial(), serialOf(second));
  });
});

describe('the health listener against slow and misplaced callers', () => {
  let ca: PemPair;
  let pair: PemPair;

  before(async () => {
    ca = await createCertificateAuthority({ commonName: 'health listener test CA' });
    pair = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames(['api']) });
  });

  it('drops a caller that stalls in the middle of its request line, and one that never starts the handshake', async () => {
    const listener = await startHealthListener({
      tls: feedOf(pair),
      bind: '127.0.0.1',
      port: 0,
      timeouts: { handshakeTimeoutMs: 1000, headersTimeoutMs: 1000 },
      view,
    });
    try {
      const stalled = await new Promise<number>((resolve, reject) => {
        const began = performance.now();
        const socket = tlsConnect({ host: '127.0.0.1', port: listener.port, ca: ca.certPem }, () => socket.write('GET /hea'));
        socket.on('data', () => undefined);
        socket.once('error', reject);
        socket.once('close', () => resolve(performance.now() - began));
        setTimeout(() => socket.destroy(new Error('still connected after 4 s')), 4000).unref();
      });
      assert.ok(stalled < 3000, `dropped after ${Math.round(stalled)} ms`);
      const silent = await new Promise<number>((resolve) => {
        const began = performance.now();
        const socket = tcpConnect({ host: '127.0.0.1', port: listener.port });
        socket.on('error', () => undefined);
        socket.once('close', () => resolve(performance.now() - began));
        setTimeout(() => socket.destroy(), 4000).unref();
      });
      assert.ok(silent < 3000, `dropped after ${Math.round(silent)} ms`);
    } finally {
      await listener.close();
    }
  });

  it('turns a health port in use into PORT_IN_USE naming the health port flag', async () => {
    const blocker = createTcpServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      await assert.rejects(startHealthListener({ tls: feedOf(pair), bind: '127.0.0.1', port, timeouts, view }), (error: unknown) => {
        assert.ok(isFarolError(error, 'PORT_IN_USE'), String(error));
        assert.match(error.message, new RegExp(`health port ${port}`));
        assert.match(error.hint ?? '', /--health-port/);
        return true;
      });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('closes its port, idempotently', async () => {
    const listener = await startHealthListener({ tls: feedOf(pair), bind: '127.0.0.1', port: 0, timeouts, view });
    await Promise.all([listener.close(), listener.close()]);
    assert.equal(await refusesConnections(listener.port), true);
  });
});

describe('the health listener of an mTLS-only service', () => {
  it('starts with the service, presents the rotated server certificate to new handshakes, and closes with it', async () => {
    const dir = await tempDir();
    const pki = await issueTestPki(dir, ['api']);
    const service = await createService({
      name: 'api',
      port: 0,
      tls: { certFile: pki.certFile, keyFile: pki.keyFile },
      clientCertificates: { caFile: pki.caFile },
      consul: false,
      logFile: join(dir, 'logs', 'server-log.txt'),
      drain: { delayMs: 0 },
    });
    try {
      assert.equal(service.healthPort, undefined, 'not before start()');
      await service.start();
      const healthPort = service.healthPort!;
      assert.ok(healthPort > 0 && healthPort !== service.port);
      const peerSerial = () =>
        new Promise<string>((resolve, reject) => {
          const socket = tlsConnect({ host: '127.0.0.1', port: healthPort, ca: pki.caPem }, () => {
            const serial = socket.getPeerX509Certificate()?.serialNumber ?? '';
            socket.destroy();
            resolve(serial);
          });
          socket.once('error', reject);
        });
      const before = await peerSerial();
      assert.equal(before, new X509Certificate(await readFile(pki.certFile, 'utf8')).serialNumber);
      const next = await issueCertificate(pki.ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames(['api']) });
      await writeServerFiles(dir, next);
      const serial = new X509Certificate(next.certPem).serialNumber;
      assert.ok(await until(async () => (await peerSerial()) === serial, 5000), 'the health listener still presents the old certificate');
    } finally {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal(await refusesConnections(service.healthPort ?? 0), true);
  });
});
