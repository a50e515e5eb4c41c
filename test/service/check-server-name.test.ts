/**
 * Which health check an instance registers: HTTPS when Consul can verify the certificate (it
 * reads subjectAltName only), else TTL with a warning, or an error naming the flag to add when
 * HTTPS was asked for explicitly. Decided before anything listens, never after Consul has marked
 * the instance critical.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { createCertificateAuthority, issueCertificate, serverSubjectAltNames, type PemPair } from '../../src/pki/index.js';
import { isFarolError } from '../../src/errors.js';
import { planHealthCheck } from '../../src/service/check-server-name.js';
import { generateSeedCertificate, tempDir } from './fixtures.js';

describe('the health check plan', () => {
  let dir: string;
  let ca: PemPair;
  let farolCert: string;
  let seedCert: string;
  let wildcard: string;

  before(async () => {
    dir = await tempDir();
    ca = await createCertificateAuthority();
    farolCert = (await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames(['api']) })).certPem;
    seedCert = await readFile((await generateSeedCertificate(dir)).certFile, 'utf8');
    wildcard = (await issueCertificate(ca, { commonName: 'api', usage: 'server', dnsNames: ['*.service.consul'] })).certPem;
  });

  after(() => rm(dir, { recursive: true, force: true }));

  it('is HTTPS, verified against the advertised address, for a certificate from farol certs', () => {
    assert.deepEqual(planHealthCheck(undefined, farolCert, '127.0.0.1'), { kind: 'https', tlsServerName: '127.0.0.1' });
    assert.deepEqual(planHealthCheck('https', farolCert, '127.0.0.1'), { kind: 'https', tlsServerName: '127.0.0.1' });
  });

  it('is TTL whenever TTL is asked for', () => {
    assert.deepEqual(planHealthCheck('ttl', farolCert, '127.0.0.1'), { kind: 'ttl' });
    assert.deepEqual(planHealthCheck('ttl', seedCert, '127.0.0.1'), { kind: 'ttl' });
  });

  it("is TTL, with a warning saying why and what to do, for the original project's CN-only OpenSSL certificate", () => {
    const plan = planHealthCheck(undefined, seedCert, '127.0.0.1');
    assert.equal(plan.kind, 'ttl');
    assert.ok(plan.kind === 'ttl' && plan.warning !== undefined);
    assert.match(plan.warning, /subjectAltName/);
    assert.match(plan.warning, /CN/);
    assert.match(plan.warning, /farol certs issue --host 127\.0\.0\.1/);
  });

  it('refuses an explicit HTTPS check Consul could never pass, with the flag to add as the hint', () => {
    assert.throws(
      () => planHealthCheck('https', seedCert, '127.0.0.1'),
      (error: unknown) => {
        assert.ok(isFarolError(error, 'CONFIG_INVALID'), String(error));
        assert.match(error.message, /could never pass/);
        assert.match(error.hint ?? '', /^add --check ttl/);
        return true;
      },
    );
  });

  it('verifies a wildcard certificate against a name it covers, and cannot turn the wildcard itself into a name', () => {
    assert.deepEqual(planHealthCheck(undefined, wildcard, 'api.service.consul'), { kind: 'https', tlsServerName: 'api.service.consul' });
    assert.equal(planHealthCheck(undefined, wildcard, '10.0.0.1').kind, 'ttl');
  });
});
