import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { isFarolError } from '../../src/errors.js';
import { loadX509 } from '../../src/pki/crypto-provider.js';
import { createCertificateAuthority, issueCertificate, serverSubjectAltNames, type PemPair } from '../../src/pki/index.js';
import { nodeCertificate, parsedCertificate } from './pki-test-support.js';

const x509 = loadX509();

const DAY_MS = 86_400_000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

describe('issued leaf certificate', () => {
  let ca: PemPair;
  let otherCa: PemPair;
  let server: PemPair;

  before(async () => {
    ca = await createCertificateAuthority({ commonName: 'Issue Test CA' });
    otherCa = await createCertificateAuthority({ commonName: 'Other CA' });
    server = await issueCertificate(ca, { commonName: 'api', usage: 'server', ...serverSubjectAltNames(['api']) });
  });

  it('is issued and signed by the CA, and not by another CA', () => {
    const leaf = nodeCertificate(server.certPem);
    const issuer = nodeCertificate(ca.certPem);
    const stranger = nodeCertificate(otherCa.certPem);
    assert.equal(leaf.checkIssued(issuer), true);
    assert.equal(leaf.verify(issuer.publicKey), true);
    assert.equal(leaf.issuer, 'CN=Issue Test CA');
    assert.equal(leaf.subject, 'CN=api');
    assert.equal(leaf.checkIssued(stranger), false);
    assert.equal(leaf.verify(stranger.publicKey), false);
  });

  it('is not a CA (basicConstraints CA:false, critical)', () => {
    assert.equal(nodeCertificate(server.certPem).ca, false);
    const basicConstraints = parsedCertificate(server.certPem).getExtension(x509.BasicConstraintsExtension);
    assert.ok(basicConstraints);
    assert.equal(basicConstraints.ca, false);
    assert.equal(basicConstraints.critical, true);
  });

  it('names localhost, 127.0.0.1, ::1 and <service>.service.consul, and nothing else', () => {
    const leaf = nodeCertificate(server.certPem);
    assert.equal(
      leaf.subjectAltName,
      'DNS:localhost, DNS:api.service.consul, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    assert.equal(leaf.checkHost('localhost'), 'localhost');
    assert.equal(leaf.checkHost('api.service.consul'), 'api.service.consul');
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(leaf.checkIP('::1'), '::1');
    assert.equal(leaf.checkHost('web.service.consul'), undefined);
    assert.equal(leaf.checkHost('example.com'), undefined);
    assert.equal(leaf.checkIP('10.0.0.1'), undefined);
  });

  it('carries URI names, e.g. a SPIFFE id', async () => {
    const leaf = await issueCertificate(ca, { commonName: 'api', usage: 'server', uris: ['spiffe://farol/service/api'] });
    assert.equal(nodeCertificate(leaf.certPem).subjectAltName, 'URI:spiffe://farol/service/api');
  });

  it('puts organizational units in the subject before the common name', async () => {
    const leaf = await issueCertificate(ca, { commonName: 'alice', usage: 'client', organizationalUnits: ['ops', 'billing'] });
    assert.equal(nodeCertificate(leaf.certPem).subject, 'OU=ops\nOU=billing\nCN=alice');
    assert.deepEqual(parsedCertificate(leaf.certPem).subjectName.getField('OU'), ['ops', 'billing']);
  });

  it('has a subjectAltName only when names are given', async () => {
    const client = await issueCertificate(ca, { commonName: 'alice', usage: 'client' });
    assert.equal(nodeCertificate(client.certPem).subjectAltName, undefined);
  });

  it('allows TLS server authentication only for usage "server"', () => {
    assert.deepEqual(nodeCertificate(server.certPem).keyUsage, [SERVER_AUTH]);
  });

  it('allows TLS client authentication only for usage "client"', async () => {
    const client = await issueCertificate(ca, { commonName: 'alice', usage: 'client' });
    assert.deepEqual(nodeCertificate(client.certPem).keyUsage, [CLIENT_AUTH]);
  });

  it('allows both for usage "both"', async () => {
    const both = await issueCertificate(ca, { commonName: 'worker', usage: 'both' });
    assert.deepEqual(nodeCertificate(both.certPem).keyUsage, [SERVER_AUTH, CLIENT_AUTH]);
  });

  it('has keyUsage digitalSignature only, critical', () => {
    const keyUsage = parsedCertificate(server.certPem).getExtension(x509.KeyUsagesExtension);
    assert.ok(keyUsage);
    assert.equal(keyUsage.usages, x509.KeyUsageFlags.digitalSignature);
    assert.equal(keyUsage.critical, true);
  });

  it("names the CA's key in authorityKeyIdentifier and its own in subjectKeyIdentifier", () => {
    const caKeyId = parsedCertificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    const leaf = parsedCertificate(server.certPem);
    assert.ok(caKeyId);
    assert.equal(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, caKeyId);
    const leafKeyId = leaf.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    assert.ok(leafKeyId);
    assert.notEqual(leafKeyId, caKeyId);
  });

  it('has its own ECDSA P-256 key as PKCS#8 PEM, matching the certificate and not the CA', () => {
    assert.match(server.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(server.keyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(nodeCertificate(server.certPem).checkPrivateKey(key), true);
    assert.equal(nodeCertificate(server.certPem).checkPrivateKey(createPrivateKey(ca.keyPem)), false);
  });

  it('has a random positive 16-byte serial number', async () => {
    const serials = [server, await issueCertificate(ca, { commonName: 'a', usage: 'client' }), await issueCertificate(ca, { commonName: 'b', usage: 'client' })].map(
      (pair) => nodeCertificate(pair.certPem).serialNumber,
    );
    for (const serial of serials) {
      assert.match(serial, /^[0-7][0-9A-F]{31}$/, `serial ${serial}`);
      assert.notEqual(serial, '0'.repeat(32));
    }
    assert.equal(new Set(serials).size, serials.length);
  });

  it('is valid from a minute ago for 365 days by default', async () => {
    const issuedAt = Date.now();
    const leaf = nodeCertificate((await issueCertificate(ca, { commonName: 'api', usage: 'server' })).certPem);
    const validFrom = new Date(leaf.validFrom).getTime();
    const validTo = new Date(leaf.validTo).getTime();
    assert.ok(validFrom <= issuedAt - 59_000 && validFrom >= issuedAt - 62_000, `validFrom ${leaf.validFrom}`);
    assert.ok(Math.abs(validTo - (issuedAt + 365 * DAY_MS)) < 5_000, `validTo ${leaf.validTo}`);
  });

  it('honours validityDays and explicit notBefore / notAfter', async () => {
    const shortLived = nodeCertificate((await issueCertificate(ca, { commonName: 'api', usage: 'server', validityDays: 7 })).certPem);
    assert.ok(Math.abs(new Date(shortLived.validTo).getTime() - (Date.now() + 7 * DAY_MS)) < 5_000);

    const notBefore = new Date('2020-01-01T00:00:00Z');
    const notAfter = new Date('2020-02-01T00:00:00Z');
    const old = nodeCertificate((await issueCertificate(ca, { commonName: 'old', usage: 'server', notBefore, notAfter })).certPem);
    assert.equal(new Date(old.validFrom).toISOString(), notBefore.toISOString());
    assert.equal(new Date(old.validTo).toISOString(), notAfter.toISOString());
  });

  it('never outlives its CA: a later notAfter is cut back to the CA notAfter', async () => {
    const shortCa = await createCertificateAuthority({ validityDays: 10 });
    const leaf = nodeCertificate((await issueCertificate(shortCa, { commonName: 'api', usage: 'server', validityDays: 365 })).certPem);
    assert.equal(leaf.validTo, nodeCertificate(shortCa.certPem).validTo);
  });

  it('rejects bad names and parameters with CONFIG_INVALID', async () => {
    const invalid = [
      { commonName: '', usage: 'server' as const },
      { commonName: 'api', usage: 'server' as const, ipAddresses: ['256.1.1.1'] },
      { commonName: 'api', usage: 'server' as const, ipAddresses: ['localhost'] },
      { commonName: 'api', usage: 'server' as const, ipAddresses: ['fe80::1%eth0'] },
      { commonName: 'api', usage: 'server' as const, dnsNames: ['bad name'] },
      { commonName: 'api', usage: 'server' as const, dnsNames: ['-leading.example'] },
      { commonName: 'api', usage: 'server' as const, uris: ['not a uri'] },
      { commonName: 'api', usage: 'server' as const, notBefore: new Date('2030-01-01'), notAfter: new Date('2029-01-01') },
      { commonName: 'api', usage: 'admin' as unknown as 'server' },
      { commonName: 'api', usage: 'client' as const, organizationalUnits: [' '] },
      { commonName: 'api', usage: 'toString' as unknown as 'server' },
    ];
    for (const opts of invalid) {
      await assert.rejects(issueCertificate(ca, opts), (error) => isFarolError(error, 'CONFIG_INVALID'), JSON.stringify(opts));
    }
  });

  it('refuses a CA whose key does not match its certificate with CERT_INVALID', async () => {
    const mismatched = { certPem: ca.certPem, keyPem: otherCa.keyPem };
    await assert.rejects(issueCertificate(mismatched, { commonName: 'api', usage: 'server' }), (error) => {
      assert.ok(isFarolError(error, 'CERT_INVALID'));
      assert.match(error.message, /does not belong/);
      return true;
    });
  });

  it('refuses a leaf certificate as a CA with CERT_INVALID', async () => {
    await assert.rejects(issueCertificate(server, { commonName: 'x', usage: 'server' }), (error) => {
      assert.ok(isFarolError(error, 'CERT_INVALID'));
      assert.match(error.message, /not a CA certificate/);
      return true;
    });
  });

  it('refuses a CA that is not PEM with CERT_INVALID', async () => {
    await assert.rejects(issueCertificate({ certPem: 'garbage', keyPem: ca.keyPem }, { commonName: 'x', usage: 'server' }), (error) =>
      isFarolError(error, 'CERT_INVALID'),
    );
  });
});
