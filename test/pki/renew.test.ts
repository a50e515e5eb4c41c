import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isFarolError } from '../../src/errors.js';
import { createCertificateAuthority, initCertificates, issueCertificate, loadServerTls, renewLeaves, type PemPair } from '../../src/pki/index.js';
import { DAY_MS, certificateAuthorityValid, snapshot, writePair } from './lifecycle-support.js';
import { makeTempDir, nodeCertificate } from './pki-test-support.js';

/** A leaf issued 355 days ago that expires in `daysLeft` days (a 365-day certificate near its end). */
function agedLeaf(ca: PemPair, daysLeft: number, extra: Partial<Parameters<typeof issueCertificate>[1]> = {}): Promise<PemPair> {
  const notAfter = new Date(Date.now() + daysLeft * DAY_MS);
  return issueCertificate(ca, {
    commonName: 'api',
    usage: 'server',
    dnsNames: ['localhost', 'api.service.consul'],
    ipAddresses: ['127.0.0.1'],
    ...extra,
    notBefore: new Date(notAfter.getTime() - 365 * DAY_MS),
    notAfter,
  });
}

async function caOf(dir: string): Promise<PemPair> {
  return { certPem: await readFile(join(dir, 'ca.pem'), 'utf8'), keyPem: await readFile(join(dir, 'ca-key.pem'), 'utf8') };
}

describe('renewLeaves (farol certs renew)', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let dir: string;
  let ca: PemPair;

  beforeEach(async () => {
    temp = await makeTempDir();
    dir = join(temp.dir, 'certs');
    await initCertificates({ dir, services: ['api'], clients: ['alice'] });
    ca = await caOf(dir);
  });

  afterEach(async () => {
    await temp.remove();
  });

  it('re-issues a leaf expiring within the window with the same subject, names and usage, a new key and serial, and keeps the CA', async () => {
    const old = await agedLeaf(ca, 10, { commonName: 'api', organizationalUnits: ['ops'], usage: 'both', uris: ['spiffe://farol.local/service/api'] });
    await writePair(dir, 'cert', old);
    const before = await snapshot(dir);
    const result = await renewLeaves({ caDir: dir });

    assert.deepEqual(result.renewed.map((leaf) => leaf.certFile), [join(dir, 'cert.pem')]);
    const after = await snapshot(dir);
    assert.deepEqual(after.get('ca.pem'), before.get('ca.pem'), 'the CA certificate is untouched');
    assert.deepEqual(after.get('ca-key.pem'), before.get('ca-key.pem'), 'the CA key is untouched');
    assert.deepEqual(after.get('client-alice.pem'), before.get('client-alice.pem'), 'a leaf far from expiry is untouched');

    const previous = nodeCertificate(old.certPem);
    const renewed = nodeCertificate(after.get('cert.pem')?.toString() ?? '');
    assert.equal(renewed.subject, previous.subject);
    assert.equal(renewed.subject, 'OU=ops\nCN=api');
    assert.equal(renewed.subjectAltName, previous.subjectAltName);
    assert.deepEqual(renewed.keyUsage, previous.keyUsage);
    assert.deepEqual(renewed.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.notEqual(renewed.serialNumber, previous.serialNumber);
    assert.notDeepEqual(after.get('key.pem'), before.get('key.pem'), 'a new key pair');
    assert.equal(renewed.checkIssued(new X509Certificate(ca.certPem)), true);
    assert.equal(result.renewed[0]?.serialNumber, renewed.serialNumber);
    // The old one lived 365 days; so does the new one, from now.
    assert.ok(Math.abs(new Date(renewed.validTo).getTime() - (Date.now() + 365 * DAY_MS)) < 120_000, renewed.validTo);
    assert.equal((await stat(join(dir, 'key.pem'))).mode & 0o777, 0o600);
    await loadServerTls({ certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), caFile: join(dir, 'ca.pem') });
    assert.match(result.left.find((leaf) => leaf.certFile.endsWith('client-alice.pem'))?.reason ?? '', /^expires in 364 days/);
  });

  it('renews expired leaves too, and honours the window and validityDays', async () => {
    await writePair(dir, 'cert', await agedLeaf(ca, -5));
    await writePair(dir, 'client-alice', await agedLeaf(ca, 40, { commonName: 'alice', usage: 'client', dnsNames: [], ipAddresses: [] }));
    const thirty = await renewLeaves({ caDir: dir, dryRun: true });
    assert.deepEqual(thirty.renewed.map((leaf) => leaf.subject), ['CN=api']);
    const sixty = await renewLeaves({ caDir: dir, withinMs: 60 * DAY_MS, validityDays: 90 });
    assert.deepEqual(sixty.renewed.map((leaf) => leaf.subject).sort(), ['CN=alice', 'CN=api']);
    for (const leaf of sixty.renewed) assert.ok(Math.abs((leaf.notAfter?.getTime() ?? 0) - (Date.now() + 90 * DAY_MS)) < 120_000);
  });

  it('writes nothing on a dry run, and says what it would renew', async () => {
    await writePair(dir, 'cert', await agedLeaf(ca, 3));
    const before = await snapshot(dir);
    const result = await renewLeaves({ caDir: dir, dryRun: true });
    assert.equal(result.dryRun, true);
    assert.deepEqual(result.renewed.map((leaf) => [leaf.certFile, leaf.notAfter]), [[join(dir, 'cert.pem'), undefined]]);
    assert.deepEqual(await snapshot(dir), before);
  });

  it('leaves alone what another CA issued, CA certificates and leaves whose key is missing or another, saying why', async () => {
    const otherCa = await createCertificateAuthority();
    await writePair(dir, 'stranger', await agedLeaf(otherCa, 2));
    await writeFile(join(dir, 'ca-copy.pem'), ca.certPem);
    const orphan = await agedLeaf(ca, 2, { commonName: 'orphan' });
    await writeFile(join(dir, 'orphan.pem'), orphan.certPem);
    const mismatched = await agedLeaf(ca, 2, { commonName: 'mismatched' });
    await writePair(dir, 'mismatched', { certPem: mismatched.certPem, keyPem: (await agedLeaf(ca, 2)).keyPem });
    const before = await snapshot(dir);

    const result = await renewLeaves({ caDir: dir });
    assert.deepEqual(result.renewed, []);
    const reasons = Object.fromEntries(result.left.map((leaf) => [leaf.certFile.slice(dir.length + 1), [leaf.reason, leaf.needsAttention]]));
    assert.match(String(reasons['stranger.pem']?.[0]), /^was not issued by the CA in /);
    assert.match(String(reasons['ca-copy.pem']?.[0]), /is a CA certificate/);
    assert.match(String(reasons['orphan.pem']?.[0]), /its key file .*orphan-key\.pem does not exist: issue a new one with farol certs issue$/);
    assert.equal(reasons['orphan.pem']?.[1], true);
    assert.match(String(reasons['mismatched.pem']?.[0]), /holds another key/);
    assert.equal(reasons['stranger.pem']?.[1], false);
    assert.deepEqual(await snapshot(dir), before);
  });

  it('renews leaves in other directories (one per instance) signed by the CA, keeping a chain that followed the leaf', async () => {
    const instance = join(temp.dir, 'api1');
    const old = await agedLeaf(ca, 1, { dnsNames: ['api1'], ipAddresses: [] });
    await writePair(instance, 'cert', { certPem: `${old.certPem}\n${ca.certPem}\n`, keyPem: old.keyPem });
    const result = await renewLeaves({ caDir: dir, leafDirs: [instance, dir] });
    assert.deepEqual(result.renewed.map((leaf) => leaf.certFile), [join(instance, 'cert.pem')]);
    const text = await readFile(join(instance, 'cert.pem'), 'utf8');
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    assert.equal(blocks.length, 2);
    assert.equal(nodeCertificate(blocks[0] ?? '').subjectAltName, 'DNS:api1');
    assert.equal(blocks[1]?.trim(), ca.certPem.trim());
  });

  it('warns when the CA itself expires within the window, and cuts renewed leaves to it', async () => {
    const shortDir = join(temp.dir, 'short');
    const shortCa = await certificateAuthorityValid(new Date(Date.now() - 300 * DAY_MS), new Date(Date.now() + 20 * DAY_MS));
    await writePair(shortDir, 'ca', shortCa);
    await writePair(shortDir, 'cert', await issueCertificate(shortCa, { commonName: 'api', usage: 'server', dnsNames: ['api'], notBefore: new Date(Date.now() - 300 * DAY_MS), notAfter: new Date(Date.now() + 5 * DAY_MS) }));
    const result = await renewLeaves({ caDir: shortDir });
    assert.equal(result.caExpiresWithinWindow, true);
    assert.equal(result.renewed[0]?.cutToCaExpiry, true);
  });

  it('refuses to renew with an expired CA, pointing at --replace-ca and what it means for clients', async () => {
    const expiredDir = join(temp.dir, 'expired');
    await writePair(expiredDir, 'ca', await certificateAuthorityValid(new Date(Date.now() - 400 * DAY_MS), new Date(Date.now() - DAY_MS)));
    await assert.rejects(renewLeaves({ caDir: expiredDir }), (error) => isFarolError(error, 'CERT_INVALID') && /--replace-ca/.test(error.hint ?? '') && /every client/.test(error.hint ?? ''));
  });

  it('reports a missing CA or leaf directory as CERT_MISSING, and a negative window as CONFIG_INVALID', async () => {
    await rm(join(dir, 'ca.pem'));
    await assert.rejects(renewLeaves({ caDir: dir }), (error) => isFarolError(error, 'CERT_MISSING') && /No CA in /.test(error.message));
    await writeFile(join(dir, 'ca.pem'), ca.certPem);
    await assert.rejects(renewLeaves({ caDir: dir, leafDirs: [join(temp.dir, 'nowhere')] }), (error) => isFarolError(error, 'CERT_MISSING'));
    await assert.rejects(renewLeaves({ caDir: dir, withinMs: -1 }), (error) => isFarolError(error, 'CONFIG_INVALID'));
  });
});
