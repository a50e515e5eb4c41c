import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InstancePools, serverNameFor } from '../../src/client/pools.js';
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
