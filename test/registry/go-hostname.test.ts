/**
 * The embedded registry verifies an HTTPS check's host name as Consul (Go's crypto/x509) does, so
 * a certificate passes or fails in both registries alike: subjectAltName only, never the CN.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createCertificateAuthority, issueCertificate, type PemPair } from '../../src/pki/index.js';
import { goCheckServerIdentity, goHostnameError } from '../../src/registry/go-hostname.js';
import { networkProbe } from '../../src/registry/probes.js';
import type { CheckDefinition } from '../../src/registry/catalog.js';
import { ttlCheck } from './fixtures.js';

describe("the registry's host name verification (Go's rules)", () => {
  let ca: PemPair;
  let cnOnly: X509Certificate;
  let dnsOnly: X509Certificate;
  let ipAndDns: X509Certificate;
  let wildcard: X509Certificate;

  before(async () => {
    ca = await createCertificateAuthority({ commonName: 'hostname test CA' });
    const issue = async (opts: { dnsNames?: string[]; ipAddresses?: string[] }) =>
      new X509Certificate((await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...opts })).certPem);
    cnOnly = await issue({});
    dnsOnly = await issue({ dnsNames: ['web.service.consul'] });
    ipAndDns = await issue({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] });
    wildcard = await issue({ dnsNames: ['*.service.consul'] });
  });

  it('accepts a name or an address the certificate lists in subjectAltName', () => {
    assert.equal(goHostnameError('web.service.consul', dnsOnly), undefined);
    assert.equal(goHostnameError('WEB.service.consul.', dnsOnly), undefined);
    assert.equal(goHostnameError('localhost', ipAndDns), undefined);
    assert.equal(goHostnameError('127.0.0.1', ipAndDns), undefined);
    assert.equal(goHostnameError('::1', ipAndDns), undefined);
    assert.equal(goHostnameError('[::1]', ipAndDns), undefined);
  });

  it('refuses a certificate that names the host only in its subject CN, as Go does', () => {
    assert.equal(goHostnameError('localhost', cnOnly), 'x509: certificate relies on legacy Common Name field, use SANs instead');
    assert.equal(goHostnameError('127.0.0.1', cnOnly), "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs");
    assert.equal(goHostnameError('api.service.consul', cnOnly), 'x509: certificate is not valid for any names, but wanted to match api.service.consul');
  });

  it('names what the certificate is valid for when the host is not among them', () => {
    assert.equal(goHostnameError('api.service.consul', dnsOnly), 'x509: certificate is valid for web.service.consul, not api.service.consul');
    assert.match(goHostnameError('10.0.0.1', ipAndDns) ?? '', /^x509: certificate is valid for 127\.0\.0\.1, \S+, not 10\.0\.0\.1$/);
    assert.equal(goHostnameError('127.0.0.1', dnsOnly), "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs");
  });

  it('matches a wildcard as one whole leftmost label only', () => {
    assert.equal(goHostnameError('api.service.consul', wildcard), undefined);
    assert.match(goHostnameError('a.b.service.consul', wildcard) ?? '', /^x509: certificate is valid for \*\.service\.consul, not a\.b\.service\.consul$/);
    assert.match(goHostnameError('service.consul', wildcard) ?? '', /not service\.consul$/);
  });

  it("gives tls.connect Node's mismatch code with Go's text as the reason", () => {
    const error = goCheckServerIdentity('localhost', { raw: cnOnly.raw }) as Error & { code?: string; reason?: string };
    assert.equal(error.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(error.reason, 'x509: certificate relies on legacy Common Name field, use SANs instead');
    assert.equal(goCheckServerIdentity('localhost', { raw: ipAndDns.raw }), undefined);
  });
});

describe("the registry's HTTPS check with an IP as TLSServerName", () => {
  it('verifies the IP against the IP SANs, sending it as no SNI name (RFC 6066), as Go does', async () => {
    const ca = await createCertificateAuthority({ commonName: 'probe CA' });
    const leaf = await issueCertificate(ca, { commonName: 'api', usage: 'server', ipAddresses: ['127.0.0.1'] });
    let sni: string | false | null | undefined;
    const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
      sni = (req.socket as TLSSocket).servername;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
      const check: CheckDefinition = { ...ttlCheck('h'), type: 'http', http: url, method: 'GET', intervalMs: 1000, ttlMs: 0, timeoutMs: 2000, tlsServerName: '127.0.0.1' };
      assert.equal((await networkProbe(ca.certPem)(check)).status, 'passing');
      const other: CheckDefinition = { ...check, tlsServerName: '10.0.0.1' };
      assert.match((await networkProbe(ca.certPem)(other)).output, /x509: certificate is valid for 127\.0\.0\.1, not 10\.0\.0\.1$/);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(sni, false);
      assert.deepEqual(warnings.map((warning) => warning.message), []);
    } finally {
      process.off('warning', onWarning);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("the registry's HTTPS check with a CN-only certificate", () => {
  it('stays critical, as in Consul, even when TLSServerName is the CN (Node alone would accept it)', async () => {
    const ca = await createCertificateAuthority({ commonName: 'probe CA' });
    const leaf = await issueCertificate(ca, { commonName: 'localhost', usage: 'server' });
    const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
      const check: CheckDefinition = { ...ttlCheck('h'), type: 'http', http: url, method: 'GET', intervalMs: 1000, ttlMs: 0, timeoutMs: 2000, tlsServerName: 'localhost' };
      const result = await networkProbe(ca.certPem)(check);
      assert.equal(result.status, 'critical');
      assert.equal(result.output, `Get "${url}": tls: failed to verify certificate: x509: certificate relies on legacy Common Name field, use SANs instead`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
