import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { isFarolError } from '../../src/errors.js';
import { loadX509 } from '../../src/pki/crypto-provider.js';
import { createCertificateAuthority } from '../../src/pki/index.js';
import { nodeCertificate, parsedCertificate } from './pki-test-support.js';

const x509 = loadX509();

const DAY_MS = 86_400_000;

describe('certificate authority', () => {
  it('is a self-signed CA certificate that verifies its own signature', async () => {
    const ca = await createCertificateAuthority();
    const certificate = nodeCertificate(ca.certPem);
    assert.equal(certificate.ca, true);
    assert.equal(certificate.subject, certificate.issuer);
    assert.equal(certificate.checkIssued(certificate), true);
    assert.equal(certificate.verify(certificate.publicKey), true);
  });

  it('has an ECDSA P-256 key exported as PKCS#8 PEM that belongs to the certificate', async () => {
    const ca = await createCertificateAuthority();
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n?$/);
    assert.match(ca.certPem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n?$/);
    const key = createPrivateKey(ca.keyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const certificate = nodeCertificate(ca.certPem);
    assert.equal(certificate.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(certificate.checkPrivateKey(key), true);
  });

  it('is signed with ECDSA and SHA-256', async () => {
    const ca = await createCertificateAuthority();
    const algorithm = parsedCertificate(ca.certPem).signatureAlgorithm as { name: string; hash: { name: string } };
    assert.equal(algorithm.name, 'ECDSA');
    assert.equal(algorithm.hash.name, 'SHA-256');
  });

  it('may sign leaf certificates only: basicConstraints CA:true pathLen 0, critical', async () => {
    const ca = await createCertificateAuthority();
    const basicConstraints = parsedCertificate(ca.certPem).getExtension(x509.BasicConstraintsExtension);
    assert.ok(basicConstraints);
    assert.equal(basicConstraints.ca, true);
    assert.equal(basicConstraints.pathLength, 0);
    assert.equal(basicConstraints.critical, true);
  });

  it('has keyUsage keyCertSign and cRLSign only, critical', async () => {
    const ca = await createCertificateAuthority();
    const keyUsage = parsedCertificate(ca.certPem).getExtension(x509.KeyUsagesExtension);
    assert.ok(keyUsage);
    assert.equal(keyUsage.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.equal(keyUsage.critical, true);
  });

  it('has a subjectKeyIdentifier derived from its public key', async () => {
    const ca = await createCertificateAuthority();
    const certificate = parsedCertificate(ca.certPem);
    const subjectKeyId = certificate.getExtension(x509.SubjectKeyIdentifierExtension);
    assert.ok(subjectKeyId);
    const expected = Buffer.from(await certificate.publicKey.getKeyIdentifier()).toString('hex');
    assert.equal(subjectKeyId.keyId, expected);
  });

  it('uses the given common name, or a default that differs between two CAs', async () => {
    const named = await createCertificateAuthority({ commonName: 'Team Dev CA' });
    assert.equal(nodeCertificate(named.certPem).subject, 'CN=Team Dev CA');
    const first = nodeCertificate((await createCertificateAuthority()).certPem);
    const second = nodeCertificate((await createCertificateAuthority()).certPem);
    assert.match(first.subject, /^CN=Farol CA [0-9a-f]{8}$/);
    assert.notEqual(first.subject, second.subject);
    assert.notEqual(first.serialNumber, second.serialNumber);
  });

  it('is valid from a minute ago (clock skew) for ten years by default, or for validityDays', async () => {
    const before = Date.now();
    const ca = nodeCertificate((await createCertificateAuthority()).certPem);
    const after = Date.now();
    const validFrom = new Date(ca.validFrom).getTime();
    const validTo = new Date(ca.validTo).getTime();
    // Certificate times have one-second precision.
    assert.ok(validFrom <= before - 59_000 && validFrom >= before - 62_000, `validFrom ${ca.validFrom}`);
    assert.ok(validTo >= before + 3650 * DAY_MS - 1_000 && validTo <= after + 3650 * DAY_MS, `validTo ${ca.validTo}`);

    const short = nodeCertificate((await createCertificateAuthority({ validityDays: 30 })).certPem);
    const shortValidTo = new Date(short.validTo).getTime();
    assert.ok(Math.abs(shortValidTo - (Date.now() + 30 * DAY_MS)) < 5_000, `validTo ${short.validTo}`);
  });

  it('rejects a validity that is not a positive number of days with CONFIG_INVALID', async () => {
    for (const validityDays of [0, -1, Number.NaN]) {
      await assert.rejects(createCertificateAuthority({ validityDays }), (error) => isFarolError(error, 'CONFIG_INVALID'));
    }
  });
});
