import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { issueCertificate, loadServerTls, type TlsMaterial } from '../../src/pki/index.js';
import { httpsGet, makeTempDir, nodeCertificate, parsedCertificate, startHttpsServer } from './pki-test-support.js';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';

describe("the original project's OpenSSL certificate", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let certFile: string;
  let keyFile: string;

  before(async () => {
    temp = await makeTempDir();
    // Exactly the command from the original project's README.
    await run(
      OPENSSL,
      ['req', '-x509', '-newkey', 'rsa:4096', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '365', '-subj', '/CN=localhost'],
      { cwd: temp.dir, timeout: 120_000 },
    );
    certFile = join(temp.dir, 'cert.pem');
    keyFile = join(temp.dir, 'key.pem');
  });

  after(async () => {
    await temp.remove();
  });

  it('is accepted by loadServerTls as it is', async () => {
    const material: TlsMaterial = await loadServerTls({ certFile, keyFile });
    assert.equal(material.cert, await readFile(certFile, 'utf8'));
    assert.equal(material.key, await readFile(keyFile, 'utf8'));
    assert.equal(material.certFile, certFile);
    assert.equal(material.keyFile, keyFile);
    assert.equal(material.ca, undefined);
    const certificate = nodeCertificate(material.cert);
    assert.equal(certificate.subject, 'CN=localhost');
    assert.equal(certificate.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(certificate.publicKey.asymmetricKeyDetails?.modulusLength, 4096);
  });

  it('serves HTTPS to a client that trusts cert.pem as its CA and checks the name localhost', async () => {
    const material = await loadServerTls({ certFile, keyFile, caFile: certFile });
    const server = await startHttpsServer({ cert: material.cert, key: material.key });
    try {
      const result = await httpsGet({ host: '127.0.0.1', port: server.port, ca: material.ca, servername: 'localhost' });
      assert.equal(result.status, 200);
      assert.equal(result.body.ok, true);
      await assert.rejects(httpsGet({ host: '127.0.0.1', port: server.port, ca: material.ca, servername: 'api.service.consul' }), {
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
      });
    } finally {
      await server.close();
    }
  });

  it('can act as the CA that issues Farol leaf certificates (RSA-signed, SHA-256)', async () => {
    const ca = { certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
    const leaf = await issueCertificate(ca, { commonName: 'api', usage: 'server', dnsNames: ['localhost'] });
    const certificate = nodeCertificate(leaf.certPem);
    const issuer = nodeCertificate(ca.certPem);
    assert.equal(certificate.checkIssued(issuer), true);
    assert.equal(certificate.verify(issuer.publicKey), true);
    const algorithm = parsedCertificate(leaf.certPem).signatureAlgorithm as { name: string; hash: { name: string } };
    assert.deepEqual([algorithm.name, algorithm.hash.name], ['RSASSA-PKCS1-v1_5', 'SHA-256']);
    const leafFile = join(temp.dir, 'leaf.pem');
    await writeFile(leafFile, leaf.certPem);
    const { stdout } = await run(OPENSSL, ['verify', '-CAfile', certFile, '-purpose', 'sslserver', leafFile], { timeout: 10_000 });
    assert.equal(stdout.trim(), `${leafFile}: OK`);
  });
});
