import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { isFarolError } from '../../src/errors.js';
import { createCertificateAuthority, issueCertificate, serverSubjectAltNames, type PemPair } from '../../src/pki/index.js';
import { clientSubjectAltNames, generalNames, isValidDnsName } from '../../src/pki/subject-alt-names.js';
import { nodeCertificate } from './pki-test-support.js';

const serviceName = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);

describe('server subject alternative names', () => {
  it('always name localhost and both loopback addresses', () => {
    assert.deepEqual(serverSubjectAltNames([]), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] });
  });

  it('add <service>.service.consul once for each distinct service, in order', () => {
    fc.assert(
      fc.property(fc.array(serviceName, { maxLength: 8 }), (services) => {
        const { dnsNames, ipAddresses } = serverSubjectAltNames(services);
        const expected = ['localhost', ...new Set(services.map((service) => `${service}.service.consul`))];
        assert.deepEqual(dnsNames, expected);
        assert.deepEqual(ipAddresses, ['127.0.0.1', '::1']);
      }),
    );
  });

  it('reject a service name that cannot be a DNS label with CONFIG_INVALID', () => {
    for (const bad of ['', 'has space', 'dotted.name', '-api', 'api-', 'x'.repeat(64), 'ümlaut']) {
      assert.throws(() => serverSubjectAltNames([bad]), (error) => isFarolError(error, 'CONFIG_INVALID'), bad);
    }
  });
});

describe('client subject alternative names', () => {
  it('are one SPIFFE URI naming the client', () => {
    assert.deepEqual(clientSubjectAltNames('alice'), { uris: ['spiffe://farol.local/client/alice'] });
    assert.deepEqual(clientSubjectAltNames('ci-runner_2.eu'), { uris: ['spiffe://farol.local/client/ci-runner_2.eu'] });
  });

  it('keep every valid client name unchanged in a URI that parses back to it', () => {
    const clientName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).filter((name) => !name.includes('..'));
    fc.assert(
      fc.property(clientName, (name) => {
        const [uri] = clientSubjectAltNames(name).uris;
        const parsed = new URL(uri ?? '');
        assert.equal(parsed.protocol, 'spiffe:');
        assert.equal(parsed.host, 'farol.local');
        assert.equal(parsed.pathname, `/client/${name}`);
      }),
    );
  });

  it('refuse a name that is not a valid client name with CONFIG_INVALID', () => {
    for (const bad of ['', '../evil', 'a/b', 'x..y', 'sp ace', 'a?b', 'a#b']) {
      assert.throws(() => clientSubjectAltNames(bad), (error) => isFarolError(error, 'CONFIG_INVALID'), bad);
    }
  });
});

describe('subject alternative name validation', () => {
  it('accepts hostnames and wildcards, rejects malformed names', () => {
    for (const good of ['localhost', 'api.service.consul', '*.service.consul', 'a-b.example', '_srv.example']) {
      assert.equal(isValidDnsName(good), true, good);
    }
    for (const bad of ['', '.', 'a..b', 'a b', '*.consul', 'a.*.consul', '-a.example', 'a-.example', `${'x'.repeat(64)}.example`]) {
      assert.equal(isValidDnsName(bad), false, bad);
    }
  });

  it('removes duplicates and keeps DNS, IP, URI order', () => {
    assert.deepEqual(generalNames({ uris: ['spiffe://x/y'], ipAddresses: ['::1', '::1'], dnsNames: ['a.example', 'a.example'] }), [
      { type: 'dns', value: 'a.example' },
      { type: 'ip', value: '::1' },
      { type: 'url', value: 'spiffe://x/y' },
    ]);
  });
});

describe('IP addresses in an issued certificate', () => {
  let ca: PemPair;
  before(async () => {
    ca = await createCertificateAuthority();
  });

  it('match exactly the IPv4 and IPv6 addresses given (node:crypto checkIP)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.ipV4(), fc.ipV6()), async (address) => {
        const leaf = nodeCertificate((await issueCertificate(ca, { commonName: 'ip', usage: 'server', ipAddresses: [address] })).certPem);
        assert.ok(leaf.checkIP(address), `${address} not matched by ${leaf.subjectAltName}`);
        assert.equal(leaf.checkIP(address.includes(':') ? '127.0.0.1' : '::1'), undefined);
      }),
      { numRuns: 40 },
    );
  });
});
