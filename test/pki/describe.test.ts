import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isFarolError } from '../../src/errors.js';
import {
  NO_SUBJECT_ALT_NAMES_WARNING,
  createCertificateAuthority,
  describeCertificate,
  describeCertificateFile,
  initCertificates,
  issueCertificate,
} from '../../src/pki/index.js';
import { DAY_MS, opensslSelfSigned, openssl } from './lifecycle-support.js';
import { makeTempDir } from './pki-test-support.js';

describe('describing certificates (farol certs show)', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let farolDir: string;
  let original: { certFile: string; keyFile: string };

  before(async () => {
    temp = await makeTempDir();
    farolDir = join(temp.dir, 'certs');
    await initCertificates({ dir: farolDir, services: ['api'], hosts: ['10.0.0.7'], clients: ['alice'] });
    original = await opensslSelfSigned(temp.dir);
  });

  after(async () => {
    await temp.remove();
  });

  it('gives a Farol server certificate its names, issuer, serial, validity, key and usage', async () => {
    const [server] = await describeCertificateFile(join(farolDir, 'cert.pem'));
    const [ca] = await describeCertificateFile(join(farolDir, 'ca.pem'));
    assert.ok(server && ca);
    assert.equal(server.subject, 'CN=api');
    assert.deepEqual(server.subjectAltNames, { dns: ['localhost', 'api.service.consul'], ip: ['127.0.0.1', '::1', '10.0.0.7'], uri: [], email: [] });
    assert.equal(server.issuer, ca.subject);
    assert.match(server.issuer, /^CN=Farol CA [0-9a-f]{8}$/);
    assert.equal(server.selfSigned, false);
    assert.deepEqual(server.usage, ['server']);
    assert.equal(server.isCa, false);
    assert.equal(server.keyType, 'EC P-256');
    assert.equal(server.daysLeft, 364, 'a fresh 365-day certificate has 364 whole days left');
    assert.equal(server.expired, false);
    assert.deepEqual(server.warnings, []);
    assert.equal(`serial=${server.serialNumber}`, await openssl(['x509', '-in', join(farolDir, 'cert.pem'), '-noout', '-serial']));
    assert.equal(new Date(server.notAfter).getTime(), new Date(await openssl(['x509', '-in', join(farolDir, 'cert.pem'), '-noout', '-enddate']).then((line) => line.slice('notAfter='.length))).getTime());
  });

  it('tells a client certificate and the CA apart', async () => {
    const [client] = await describeCertificateFile(join(farolDir, 'client-alice.pem'));
    const [ca] = await describeCertificateFile(join(farolDir, 'ca.pem'));
    assert.deepEqual(client?.usage, ['client']);
    assert.deepEqual(client?.subjectAltNames.uri, ['spiffe://farol.local/client/alice']);
    assert.equal(ca?.isCa, true);
    assert.equal(ca?.selfSigned, true);
    assert.deepEqual(ca?.usage, [], 'a CA that may only sign certificates authenticates nothing in TLS');
    assert.deepEqual(ca?.warnings, [], 'no SAN warning for a CA');
    assert.ok((ca?.daysLeft ?? 0) >= 3649);
  });

  it("describes the original project's OpenSSL certificate and says why Go clients (Consul's checks) reject it", async () => {
    const [described] = await describeCertificateFile(original.certFile);
    assert.ok(described);
    assert.equal(described.subject, 'CN=localhost');
    assert.equal(described.issuer, 'CN=localhost');
    assert.equal(described.selfSigned, true);
    assert.equal(described.isCa, true, 'openssl req -x509 marks it CA:TRUE');
    assert.equal(described.keyType, 'RSA 2048');
    assert.deepEqual(described.subjectAltNames, { dns: [], ip: [], uri: [], email: [] });
    assert.deepEqual(described.usage, ['server', 'client'], 'no extended key usage: nothing restricts it');
    assert.deepEqual(described.warnings, [NO_SUBJECT_ALT_NAMES_WARNING]);
    assert.match(NO_SUBJECT_ALT_NAMES_WARNING, /^no subject alternative names: TLS clients that ignore the CN \(Go, hence Consul's HTTPS checks\) will not accept it$/);
    assert.equal(`serial=${described.serialNumber}`, await openssl(['x509', '-in', original.certFile, '-noout', '-serial']));
  });

  it('counts days left down to negative numbers once expired', async () => {
    const ca = await createCertificateAuthority();
    const pair = await issueCertificate(ca, { commonName: 'old', usage: 'server', dnsNames: ['old'], notBefore: new Date(Date.now() - 40 * DAY_MS), notAfter: new Date(Date.now() - 3 * DAY_MS + 60_000) });
    const described = describeCertificate(pair.certPem);
    assert.equal(described.daysLeft, -3);
    assert.equal(described.expired, true);
    assert.deepEqual(described.warnings, ['expired 3 days ago']);
    const soon = describeCertificate(pair.certPem, new Date(Date.now() - 10 * DAY_MS));
    assert.equal(soon.daysLeft, 7);
    assert.equal(soon.expired, false);
  });

  it('describes every certificate of a bundle, in order', async () => {
    const bundle = join(temp.dir, 'bundle.pem');
    await writeFile(bundle, `${await readFile(join(farolDir, 'cert.pem'), 'utf8')}\n${await readFile(join(farolDir, 'ca.pem'), 'utf8')}\n`);
    const described = await describeCertificateFile(bundle);
    assert.deepEqual(described.map((entry) => entry.isCa), [false, true]);
  });

  it('refuses a key file, a missing file and garbage with the error a user can act on', async () => {
    await assert.rejects(describeCertificateFile(join(farolDir, 'key.pem')), (error) => isFarolError(error, 'CERT_INVALID') && /key\.pem is not a PEM certificate/.test(error.message));
    await assert.rejects(describeCertificateFile(join(farolDir, 'nope.pem')), (error) => isFarolError(error, 'CERT_MISSING'));
    await assert.rejects(describeCertificateFile(farolDir), (error) => isFarolError(error, 'CERT_INVALID') && /is a directory/.test(error.message));
    const broken = join(temp.dir, 'broken.pem');
    await writeFile(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    await assert.rejects(describeCertificateFile(broken), (error) => isFarolError(error, 'CERT_INVALID'));
  });
});
