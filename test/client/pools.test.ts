import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { exchange, InstancePools, serverNameFor, TryTimedOut } from '../../src/client/pools.js';
import { issueCertificate } from '../../src/pki/index.js';
import { answerWithInstance, createTestPki, startHttpsServer } from './fixtures.js';

describe('TLS server name of an instance', () => {
  it("replaces '{service}' in a template with the service name", () => {
    assert.equal(serverNameFor({ service: 'api', address: '127.0.0.1' }, '{service}.service.consul'), 'api.service.consul');
  });

  it('uses a host name address as is', () => {
    assert.equal(serverNameFor({ service: 'api', address: 'api-1.internal' }), 'api-1.internal');
  });

  it('leaves it unset for an IP address, so the IP SAN is what gets checked', () => {
    assert.equal(serverNameFor({ service: 'api', address: '127.0.0.1' }), undefined);
    assert.equal(serverNameFor({ service: 'api', address: '::1' }), undefined);
  });
});

describe('instance pools and mutual TLS', () => {
  it('recovers the TLS 1.3 alert behind "other side closed" when an instance demands a client certificate', async () => {
    const pki = await createTestPki();
    const server = await startHttpsServer(pki.server, answerWithInstance('x'), { requireClientCertificate: { ca: pki.ca.certPem } });
    const pools = new InstancePools({ ca: pki.ca.certPem, connectTimeoutMs: 5000 });
    try {
      const pool = pools.poolFor({ instance: { address: '127.0.0.1', port: server.port }, serverName: undefined });
      const failure = await pool.request({ method: 'GET', path: '/' }).then(
        () => assert.fail('the server requires a client certificate'),
        (error: unknown) => error,
      );
      assert.equal((failure as { code?: string }).code, 'UND_ERR_SOCKET', 'undici itself only reports the close');
      const alert = pools.tlsAlertBehind(failure) as NodeJS.ErrnoException | undefined;
      assert.equal(alert?.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
      assert.equal(pools.tlsAlertBehind(new Error('unrelated')), undefined);
    } finally {
      await pools.close();
      await server.close();
    }
  });

  it('presents the client certificate it was given', async () => {
    const pki = await createTestPki();
    const caller = await issueCertificate(pki.ca, { commonName: 'pool-caller', usage: 'client' });
    const server = await startHttpsServer(pki.server, answerWithInstance('x'), { requireClientCertificate: { ca: pki.ca.certPem } });
    const pools = new InstancePools({ ca: pki.ca.certPem, connectTimeoutMs: 5000, clientCertificate: { cert: caller.certPem, key: caller.keyPem } });
    try {
      const response = await pools.poolFor({ instance: { address: '127.0.0.1', port: server.port }, serverName: undefined }).request({ method: 'GET', path: '/' });
      await response.body.text();
      assert.equal(response.statusCode, 200);
      assert.equal(server.requests[0]?.clientCertificateCn, 'pool-caller');
    } finally {
      await pools.close();
      await server.close();
    }
  });

  it('uses new TLS material for new connections after setTls, and closes the pools made before', async () => {
    const pki = await createTestPki();
    const [first, second] = await Promise.all([
      issueCertificate(pki.ca, { commonName: 'caller-before', usage: 'client' }),
      issueCertificate(pki.ca, { commonName: 'caller-after', usage: 'client' }),
    ]);
    const server = await startHttpsServer(pki.server, answerWithInstance('x'), { requireClientCertificate: { ca: pki.ca.certPem } });
    const pools = new InstancePools({ ca: pki.ca.certPem, connectTimeoutMs: 5000, clientCertificate: { cert: first.certPem, key: first.keyPem } });
    const target = { instance: { address: '127.0.0.1', port: server.port }, serverName: undefined };
    try {
      const before = pools.poolFor(target);
      await (await before.request({ method: 'GET', path: '/' })).body.text();
      pools.setTls({ ca: pki.ca.certPem, clientCertificate: { cert: second.certPem, key: second.keyPem } });
      const after = pools.poolFor(target);
      assert.notEqual(after, before, 'a new pool');
      assert.equal(before.closed, true, 'the old pool takes no more requests');
      await (await after.request({ method: 'GET', path: '/' })).body.text();
      assert.deepEqual(server.requests.map((request) => request.clientCertificateCn), ['caller-before', 'caller-after']);
    } finally {
      await pools.close();
      await server.close();
    }
  });
});

describe('one exchange on a pool', () => {
  it('resolves with the status, headers and whole body as text', async () => {
    const pki = await createTestPki();
    const server = await startHttpsServer(pki.server, (_req, res) => {
      res.setHeader('x-note', 'hello');
      res.write('\uFEFFfirst ');
      res.end('second');
    });
    const pool = new Pool(`https://127.0.0.1:${server.port}`, { connect: { ca: pki.ca.certPem } });
    try {
      const answer = await exchange(pool, { method: 'GET', path: '/x', headers: { 'x-asked': 'yes' }, body: null }, 5000);
      assert.equal(answer.statusCode, 200);
      assert.equal(answer.headers['x-note'], 'hello');
      assert.equal(answer.body, 'first second', 'without the byte order mark, as undici body.text()');
      assert.equal(server.requests[0]?.url, '/x');
    } finally {
      await pool.close();
      await server.close();
    }
  });

  it('gives up, at its own time, a request still queued behind a busy connection; and aborts on the caller\'s signal', async () => {
    const pki = await createTestPki();
    const server = await startHttpsServer(pki.server, () => undefined); // never answers
    const pool = new Pool(`https://127.0.0.1:${server.port}`, { connections: 1, connect: { ca: pki.ca.certPem } });
    try {
      const caller = new AbortController();
      const first = exchange(pool, { method: 'GET', path: '/first', headers: {}, body: null }, 60_000, caller.signal);
      const firstOutcome = first.then(() => 'answered', (error: unknown) => error);
      const queued = await exchange(pool, { method: 'GET', path: '/queued', headers: {}, body: null }, 100).then(
        () => assert.fail('nothing answers'),
        (error: unknown) => error,
      );
      assert.ok(queued instanceof TryTimedOut, String(queued));
      assert.equal(queued.timeoutMs, 100);
      caller.abort();
      const aborted = await firstOutcome;
      assert.equal((aborted as Error).name, 'AbortError');
      const already = await exchange(pool, { method: 'GET', path: '/', headers: {}, body: null }, 1000, caller.signal).catch((error: unknown) => error);
      assert.equal((already as Error).name, 'AbortError', 'an already aborted signal stops the exchange before it is sent');
      assert.ok(server.requests.every((request) => request.url !== '/'));
    } finally {
      await pool.destroy();
      await server.close();
    }
  });
});
