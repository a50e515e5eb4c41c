import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../src/pki/index.js';
import {
  buildRegistration,
  checkIdFor,
  checkServerName,
  heartbeatIntervalMs,
  newInstanceId,
  type RegistrationInput,
} from '../../src/service/index.js';
import { generateSeedCertificate, issueTestPki, tempDir } from './fixtures.js';

const input = (overrides: Partial<RegistrationInput> = {}): RegistrationInput => ({
  instanceId: 'api-0123abcd',
  name: 'api',
  address: '127.0.0.1',
  port: 4443,
  tags: ['replica-0'],
  meta: { team: 'platform' },
  farolVersion: '9.9.9',
  check: { kind: 'https', interval: '10s', timeout: '5s', deregisterCriticalAfter: '1m', ttl: '15s' },
  ...overrides,
});

function keysDeep(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...keysDeep(inner)]);
}

describe('Consul registration', () => {
  it('gives every instance an id of the service name and 8 random hex digits, unique per process', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newInstanceId('api')));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^api-[0-9a-f]{8}$/);
  });

  it('registers an HTTPS check against /health on the advertised address and port', () => {
    assert.deepEqual(buildRegistration(input()), {
      ID: 'api-0123abcd',
      Name: 'api',
      Address: '127.0.0.1',
      Port: 4443,
      Tags: ['replica-0'],
      Meta: { team: 'platform', farol_version: '9.9.9', scheme: 'https' },
      Check: {
        CheckID: 'service:api-0123abcd',
        Name: 'api HTTPS health',
        HTTP: 'https://127.0.0.1:4443/health',
        Method: 'GET',
        Interval: '10s',
        Timeout: '5s',
        DeregisterCriticalServiceAfter: '1m',
      },
    });
  });

  it('never carries a TLSSkipVerify key, for either kind of check', () => {
    for (const kind of ['https', 'ttl'] as const) {
      const registration = buildRegistration(input({ check: { ...input().check, kind, tlsServerName: 'localhost' } }));
      assert.ok(!keysDeep(registration).includes('TLSSkipVerify'));
      assert.ok(!JSON.stringify(registration).includes('SkipVerify'));
    }
  });

  it('adds a TLSServerName when one is given', () => {
    const withName = buildRegistration(input({ check: { ...input().check, tlsServerName: 'api.service.consul' } }));
    assert.equal(withName.Check?.TLSServerName, 'api.service.consul');
    assert.ok(!('TLSServerName' in buildRegistration(input()).Check!));
  });

  it("sends the HTTPS check to the health listener's port when there is one, keeping the service's port", () => {
    const registration = buildRegistration(input({ port: 8443, check: { ...input().check, port: 9443 } }));
    assert.equal(registration.Port, 8443);
    assert.equal(registration.Check?.HTTP, 'https://127.0.0.1:9443/health');
  });

  it('calls the path given in check.path instead of /health', () => {
    assert.equal(buildRegistration(input({ check: { ...input().check, path: '/_farol/health' } })).Check?.HTTP, 'https://127.0.0.1:4443/_farol/health');
  });

  it('brackets an IPv6 address in the check URL', () => {
    assert.equal(buildRegistration(input({ address: '::1', port: 8443 })).Check?.HTTP, 'https://[::1]:8443/health');
  });

  it('registers a TTL check with the id the heartbeat updates, and no HTTP target', () => {
    const registration = buildRegistration(input({ check: { ...input().check, kind: 'ttl', ttl: '9s' } }));
    assert.deepEqual(registration.Check, {
      CheckID: checkIdFor('api-0123abcd'),
      Name: 'api TTL heartbeat',
      TTL: '9s',
      DeregisterCriticalServiceAfter: '1m',
    });
    assert.equal(checkIdFor('api-0123abcd'), 'service:api-0123abcd');
  });

  it('beats three times per TTL', () => {
    assert.equal(heartbeatIntervalMs('15s'), 5000);
    assert.equal(heartbeatIntervalMs('1m30s'), 30_000);
  });

  it('beats every 666h40m for a 2000h TTL (a chained timer, not a 1 ms loop)', () => {
    assert.equal(heartbeatIntervalMs('2000h'), 2_400_000_000);
  });
});

describe("the HTTPS check's TLS server name", () => {
  let dir: string;
  before(async () => {
    dir = await tempDir();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is the advertised IP or host when the certificate names it', async () => {
    const pki = await issueTestPki(dir, ['api']);
    const cert = await readFile(pki.certFile, 'utf8');
    assert.deepEqual(checkServerName(cert, '127.0.0.1'), { tlsServerName: '127.0.0.1' });
    assert.deepEqual(checkServerName(cert, '::1'), { tlsServerName: '::1' });
    assert.deepEqual(checkServerName(cert, '[::1]'), { tlsServerName: '::1' });
    assert.deepEqual(checkServerName(cert, 'api.service.consul'), { tlsServerName: 'api.service.consul' });
  });

  it("is one of the certificate's DNS names when it does not name the advertised address", async () => {
    const ca = await createCertificateAuthority();
    const leaf = await issueCertificate(ca, { commonName: 'api', usage: 'server', dnsNames: ['api.service.consul'] });
    assert.deepEqual(checkServerName(leaf.certPem, '10.1.2.3'), { tlsServerName: 'api.service.consul' });
  });

  it('cannot help a certificate without subjectAltName, and says so', async () => {
    const seedDir = join(dir, 'seed');
    await mkdir(seedDir);
    const seed = await generateSeedCertificate(seedDir);
    const decision = checkServerName(await readFile(seed.certFile, 'utf8'), '127.0.0.1');
    assert.equal(decision.tlsServerName, undefined);
    assert.match(decision.warning ?? '', /--check ttl/);
  });
});
