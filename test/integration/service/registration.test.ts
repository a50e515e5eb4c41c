/**
 * The service host against a real Consul agent that trusts the test CA: the HTTPS check passes with
 * verification on, a TTL check stays passing through heartbeats, and stop() deregisters.
 */
import { after, afterEach, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../../src/pki/index.js';
import { type FarolService, type ServiceOptions } from '../../../src/service/index.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { issueTestPki, serviceStarter, tempDir, writeServerFiles, writeUsers, type TestPki } from '../../service/fixtures.js';
import { eventually, rawHealth, type RawHealthEntry } from '../../support/consul-health.js';

function instanceCheck(entry: RawHealthEntry, instanceId: string): RawHealthEntry['Checks'][number] | undefined {
  return entry.Checks.find((check) => check.ServiceID === instanceId);
}

let dir: string;
let pki: TestPki;
let usersFile: string;

/** The test CA and users exist before the agent starts, so the agent can trust the CA. */
async function prepareAgent(): Promise<{ caFile: string }> {
  dir = await tempDir();
  pki = await issueTestPki(dir, ['api']);
  usersFile = await writeUsers(dir, { alice: 'correct horse battery staple' });
  return { caFile: pki.caFile };
}

describeWithConsul('service registration in a real Consul', (getAgent) => {
  const running: FarolService[] = [];

  const options = (overrides: Partial<ServiceOptions>): ServiceOptions => ({
    name: 'api',
    port: 0,
    tls: { certFile: pki.certFile, keyFile: pki.keyFile },
    usersFile,
    consul: { address: getAgent().address },
    logFile: join(dir, 'logs', 'server-log.txt'),
    check: { interval: '1s', timeout: '1s' },
    drain: { delayMs: 0 },
    ...overrides,
  });

  const started = serviceStarter(options, running);

  async function passingEntry(name: string, instanceId: string): Promise<RawHealthEntry> {
    return eventually(`${instanceId} passing`, async () => (await rawHealth(getAgent(), name, true)).find((e) => e.Service.ID === instanceId));
  }

  afterEach(async () => {
    await Promise.all(running.splice(0).map((service) => service.stop()));
  });

  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('registers with an HTTPS check that Consul verifies and reports passing', async () => {
    const service = await started({ tags: ['replica-0'], meta: { team: 'platform' } });
    const entry = await passingEntry('api', service.instanceId);
    assert.equal(entry.Service.Service, 'api');
    assert.equal(entry.Service.Address, '127.0.0.1');
    assert.equal(entry.Service.Port, service.port);
    assert.deepEqual(entry.Service.Tags, ['replica-0']);
    assert.equal(entry.Service.Meta?.team, 'platform');
    assert.equal(entry.Service.Meta?.scheme, 'https');
    assert.match(entry.Service.Meta?.farol_version ?? '', /^\d+\.\d+\.\d+/);
    const check = instanceCheck(entry, service.instanceId)!;
    assert.equal(check.CheckID, `service:${service.instanceId}`);
    assert.equal(check.Status, 'passing');
  });

  it('gives each replica its own id, both passing', async () => {
    const first = await started();
    const second = await started();
    assert.notEqual(first.instanceId, second.instanceId);
    await passingEntry('api', first.instanceId);
    await passingEntry('api', second.instanceId);
  });

  it('removes the instance from Consul before stop() resolves', async () => {
    const service = await started();
    await passingEntry('api', service.instanceId);
    await service.stop();
    const entries = await rawHealth(getAgent(), 'api', false);
    assert.ok(!entries.some((e) => e.Service.ID === service.instanceId), 'still registered after stop()');
  });

  it('keeps a TTL check passing through heartbeats, past the TTL', async () => {
    const service = await started({ check: { kind: 'ttl', ttl: '2s' } });
    await passingEntry('api', service.instanceId);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const entry = (await rawHealth(getAgent(), 'api', true)).find((e) => e.Service.ID === service.instanceId);
    assert.ok(entry, 'the TTL check expired despite heartbeats');
    await service.stop();
    assert.ok(!(await rawHealth(getAgent(), 'api', false)).some((e) => e.Service.ID === service.instanceId));
  });

  it('verifies against a DNS name of the certificate when it does not name the advertised address', async () => {
    const certDir = join(dir, 'dns-only');
    await mkdir(certDir);
    const leaf = await issueCertificate(pki.ca, { commonName: 'beacon', usage: 'server', dnsNames: ['beacon.service.consul'] });
    const service = await started({ name: 'beacon', tls: await writeServerFiles(certDir, leaf) });
    const entry = await passingEntry('beacon', service.instanceId);
    assert.equal(instanceCheck(entry, service.instanceId)?.Status, 'passing');
  });

  it('leaves the check critical when the agent does not trust the certificate (verification stays on)', async () => {
    const certDir = join(dir, 'untrusted');
    await mkdir(certDir);
    const otherCa = await createCertificateAuthority({ commonName: 'Untrusted CA' });
    const leaf = await issueCertificate(otherCa, { commonName: 'localhost', usage: 'server', ipAddresses: ['127.0.0.1'] });
    const service = await started({ name: 'untrusted', tls: await writeServerFiles(certDir, leaf) });
    // The agent's own view: the catalog only syncs a check's output when its status changes.
    const check = await eventually('the check to have run', async () => {
      const checks = (await (await fetch(`${getAgent().httpAddr}/v1/agent/checks`)).json()) as Record<string, { Status: string; Output: string }>;
      const found = checks[`service:${service.instanceId}`];
      return found && found.Output !== '' ? found : undefined;
    });
    assert.equal(check.Status, 'critical');
    assert.match(check.Output, /certificate|x509|tls/i);
  });
}, prepareAgent);
