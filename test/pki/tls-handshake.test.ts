import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, issueCertificate, serverSubjectAltNames, type PemPair } from '../../src/pki/index.js';
import { httpsGet, startHttpsServer, waitFor, type RunningHttpsServer } from './pki-test-support.js';

describe('TLS with issued certificates (verification always on)', () => {
  let ca: PemPair;
  let otherCa: PemPair;
  let server: RunningHttpsServer;

  before(async () => {
    ca = await createCertificateAuthority();
    otherCa = await createCertificateAuthority();
    const serverPair = await issueCertificate(ca, { commonName: 'api', usage: 'server', ...serverSubjectAltNames(['api']) });
    server = await startHttpsServer({ cert: serverPair.certPem, key: serverPair.keyPem });
  });

  after(async () => {
    await server.close();
  });

  it('a client trusting only the CA connects to 127.0.0.1 (IP identity checked)', async () => {
    const result = await httpsGet({ host: '127.0.0.1', port: server.port, ca: ca.certPem });
    assert.equal(result.status, 200);
    assert.equal(result.body.ok, true);
  });

  it("a client trusting only the CA connects with servername 'localhost' (hostname checked)", async () => {
    const result = await httpsGet({ host: '127.0.0.1', port: server.port, ca: ca.certPem, servername: 'localhost' });
    assert.equal(result.status, 200);
  });

  it("a client connects with servername '<service>.service.consul'", async () => {
    const result = await httpsGet({ host: '127.0.0.1', port: server.port, ca: ca.certPem, servername: 'api.service.consul' });
    assert.equal(result.status, 200);
  });

  it('a client expecting a name the certificate does not carry fails the hostname check', async () => {
    await assert.rejects(httpsGet({ host: '127.0.0.1', port: server.port, ca: ca.certPem, servername: 'web.service.consul' }), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('a client trusting another CA fails with a certificate error', async () => {
    await assert.rejects(httpsGet({ host: '127.0.0.1', port: server.port, ca: otherCa.certPem, servername: 'localhost' }), {
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  it('a client with no CA of its own (system trust store) fails with a certificate error', async () => {
    await assert.rejects(httpsGet({ host: '127.0.0.1', port: server.port, servername: 'localhost' }), {
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });
});

describe('mutual TLS with issued client certificates', () => {
  let ca: PemPair;
  let otherCa: PemPair;
  let server: RunningHttpsServer;

  before(async () => {
    ca = await createCertificateAuthority();
    otherCa = await createCertificateAuthority();
    const serverPair = await issueCertificate(ca, { commonName: 'api', usage: 'server', ...serverSubjectAltNames(['api']) });
    // requestCert + rejectUnauthorized: the server verifies every client certificate against ca.
    server = await startHttpsServer({ cert: serverPair.certPem, key: serverPair.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true });
  });

  after(async () => {
    await server.close();
  });

  it("accepts a client certificate issued with usage 'client' and sees its name", async () => {
    const alice = await issueCertificate(ca, { commonName: 'alice', usage: 'client' });
    const result = await httpsGet({ host: '127.0.0.1', port: server.port, ca: ca.certPem, servername: 'localhost', cert: alice.certPem, key: alice.keyPem });
    assert.equal(result.status, 200);
    assert.deepEqual(result.body, { ok: true, authorized: true, peer: 'alice' });
  });

  it("accepts a certificate issued with usage 'both' as a client certificate", async () => {
    const worker = await issueCertificate(ca, { commonName: 'worker', usage: 'both' });
    const result = await httpsGet({ host: '127.0.0.1', port: server.port, ca: ca.certPem, servername: 'localhost', cert: worker.certPem, key: worker.keyPem });
    assert.equal(result.body.peer, 'worker');
  });

  it('refuses a client without a certificate', async () => {
    server.clientErrors.length = 0;
    await assert.rejects(httpsGet({ host: '127.0.0.1', port: server.port, ca: ca.certPem, servername: 'localhost' }), {
      code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    });
    await waitFor(() => server.clientErrors.length > 0);
    assert.equal((server.clientErrors[0] as NodeJS.ErrnoException).code, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
  });

  // With TLS 1.3 the server checks the client certificate after the client considers the handshake
  // done, so a refused client sees the connection dropped; the server records the refusal.
  it('refuses a client certificate from another CA', async () => {
    server.clientErrors.length = 0;
    const mallory = await issueCertificate(otherCa, { commonName: 'mallory', usage: 'client' });
    await assert.rejects(
      httpsGet({ host: '127.0.0.1', port: server.port, ca: ca.certPem, servername: 'localhost', cert: mallory.certPem, key: mallory.keyPem }),
      { code: 'ECONNRESET' },
    );
    await waitFor(() => server.clientErrors.length > 0);
  });

  it("refuses a certificate issued with usage 'server' as a client certificate (extended key usage)", async () => {
    server.clientErrors.length = 0;
    const serverOnly = await issueCertificate(ca, { commonName: 'impostor', usage: 'server' });
    await assert.rejects(
      httpsGet({ host: '127.0.0.1', port: server.port, ca: ca.certPem, servername: 'localhost', cert: serverOnly.certPem, key: serverOnly.keyPem }),
      { code: 'ECONNRESET' },
    );
    await waitFor(() => server.clientErrors.length > 0);
  });
});
