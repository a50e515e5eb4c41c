import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { isFarolError } from '../../src/errors.js';
import { initCertificates, issueLeaf, leafFileNames, loadServerTls } from '../../src/pki/index.js';
import { keyFileNameFor } from '../../src/pki/file-names.js';
import { DAY_MS, certificateAuthorityValid, snapshot, writePair } from './lifecycle-support.js';
import { makeTempDir, nodeCertificate } from './pki-test-support.js';

describe('leaf file names', () => {
  it('are <base>.pem and <base>-key.pem, cert.pem and key.pem for the server, and the key name follows from the certificate name', () => {
    assert.deepEqual(leafFileNames('cert'), { cert: 'cert.pem', key: 'key.pem' });
    assert.deepEqual(leafFileNames('api1'), { cert: 'api1.pem', key: 'api1-key.pem' });
    assert.equal(keyFileNameFor('server.crt'), 'server.key');
    for (const notACertificate of ['key.pem', 'api1-key.pem', 'ca.pem', 'notes.txt']) assert.equal(keyFileNameFor(notACertificate), undefined, notACertificate);
    fc.assert(
      fc.property(fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/), fc.stringMatching(/^[a-z]{1,5}(-key|\.key|\.pem|-key\.pem)?$/)), (base) => {
        let names: { cert: string; key: string };
        try {
          names = leafFileNames(base);
        } catch (error) {
          assert.ok(isFarolError(error, 'CONFIG_INVALID'));
          return;
        }
        assert.equal(keyFileNameFor(names.cert), names.key);
        assert.ok(![names.cert, names.key].includes('ca.pem') && ![names.cert, names.key].includes('ca-key.pem'));
      }),
    );
  });

  it('never name the CA files, nor leave the directory', () => {
    for (const base of ['ca', 'ca-key', 'key', '../x', 'a/b', '', 'x.pem', 'api-key', 'x.key']) {
      assert.throws(() => leafFileNames(base), (error) => isFarolError(error, 'CONFIG_INVALID'), base);
    }
  });
});

describe('issueLeaf (farol certs issue)', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let caDir: string;

  beforeEach(async () => {
    temp = await makeTempDir();
    caDir = join(temp.dir, 'ca');
    await initCertificates({ dir: caDir, services: ['api'] });
  });

  afterEach(async () => {
    await temp.remove();
  });

  it('writes one key pair per instance into its own directory, from the existing CA, which it only reads', async () => {
    const before = await snapshot(caDir);
    const outDir = join(temp.dir, 'api1');
    const result = await issueLeaf({ caDir, hosts: ['api1'], services: ['api'], outDir });
    assert.deepEqual(await snapshot(caDir), before, 'nothing in the CA directory changed');
    assert.equal(result.certFile, join(outDir, 'cert.pem'));
    assert.equal(result.keyFile, join(outDir, 'key.pem'));
    assert.equal(result.usage, 'server');
    assert.equal(result.replaced, false);
    assert.equal((await stat(result.keyFile)).mode & 0o777, 0o600);
    assert.equal((await stat(result.certFile)).mode & 0o777, 0o644);
    const certificate = nodeCertificate(await readFile(result.certFile, 'utf8'));
    assert.equal(certificate.subjectAltName, 'DNS:localhost, DNS:api.service.consul, DNS:api1, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.ok(certificate.checkIssued(nodeCertificate(await readFile(join(caDir, 'ca.pem'), 'utf8'))));
    await loadServerTls({ certFile: result.certFile, keyFile: result.keyFile, caFile: join(caDir, 'ca.pem') });
  });

  it('names the common name after the first service, else the first DNS host, else localhost', async () => {
    assert.equal((await issueLeaf({ caDir, hosts: ['10.0.0.1', 'web1'], name: 'a' })).commonName, 'web1');
    assert.equal((await issueLeaf({ caDir, name: 'b' })).commonName, 'localhost');
    assert.equal((await issueLeaf({ caDir, services: ['web'], hosts: ['web1'], name: 'c' })).commonName, 'web');
  });

  it('issues a client certificate as client-<name>.pem, or under --name', async () => {
    const result = await issueLeaf({ caDir, client: 'bob' });
    assert.equal(result.certFile, join(caDir, 'client-bob.pem'));
    assert.equal(result.keyFile, join(caDir, 'client-bob-key.pem'));
    const certificate = nodeCertificate(await readFile(result.certFile, 'utf8'));
    assert.deepEqual(certificate.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(certificate.subjectAltName, 'URI:spiffe://farol.local/client/bob');
    const named = await issueLeaf({ caDir, client: 'carol', name: 'caller', outDir: join(temp.dir, 'caller') });
    assert.equal(named.certFile, join(temp.dir, 'caller', 'caller.pem'));
  });

  it('refuses to overwrite an existing leaf without force; with force it replaces only that leaf', async () => {
    const before = await snapshot(caDir);
    await assert.rejects(issueLeaf({ caDir, hosts: ['api2'] }), (error) => {
      assert.ok(isFarolError(error, 'CERT_EXISTS'));
      assert.match(error.message, /cert\.pem and .*key\.pem$/);
      assert.match(error.hint ?? '', /--force .*\(the CA is kept\)/);
      assert.match(error.hint ?? '', /farol certs renew --dir /);
      return true;
    });
    assert.deepEqual(await snapshot(caDir), before);
    const result = await issueLeaf({ caDir, hosts: ['api2'], force: true });
    assert.equal(result.replaced, true);
    const after = await snapshot(caDir);
    assert.deepEqual(after.get('ca.pem'), before.get('ca.pem'));
    assert.deepEqual(after.get('ca-key.pem'), before.get('ca-key.pem'));
    assert.notDeepEqual(after.get('cert.pem'), before.get('cert.pem'));
    assert.ok(nodeCertificate(after.get('cert.pem')?.toString() ?? '').checkHost('api2'));
  });

  it('never writes over the CA files, even with force', async () => {
    const before = await snapshot(caDir);
    await assert.rejects(issueLeaf({ caDir, name: 'ca', force: true }), (error) => isFarolError(error, 'CONFIG_INVALID'));
    assert.deepEqual(await snapshot(caDir), before);
  });

  it('says there is no CA, and how to make one, when the directory has none', async () => {
    const empty = join(temp.dir, 'empty');
    await assert.rejects(issueLeaf({ caDir: empty }), (error) => {
      assert.ok(isFarolError(error, 'CERT_MISSING'));
      assert.equal(error.message, `No CA in ${empty}: ca.pem does not exist`);
      assert.match(error.hint ?? '', new RegExp(`farol certs init --dir ${empty}`));
      return true;
    });
    await assert.rejects(stat(empty), { code: 'ENOENT' }, 'nothing was created');
  });

  it('reports a CA key that cannot be read or used, writing nothing', async () => {
    await rm(join(caDir, 'ca-key.pem'));
    await mkdir(join(caDir, 'ca-key.pem'));
    await assert.rejects(issueLeaf({ caDir, name: 'x' }), (error) => isFarolError(error, 'CERT_INVALID') && /ca-key\.pem cannot be read \(EISDIR\)/.test(error.message));
    await rm(join(caDir, 'ca-key.pem'), { recursive: true });
    await writeFile(join(caDir, 'ca-key.pem'), 'not a key', { mode: 0o600 });
    await assert.rejects(issueLeaf({ caDir, name: 'x' }), (error) => isFarolError(error, 'CERT_INVALID') && /not a valid PEM private key/.test(error.message));
    if (process.getuid?.() !== 0) {
      await chmod(join(caDir, 'ca-key.pem'), 0o000);
      await assert.rejects(issueLeaf({ caDir, name: 'x' }), (error) => isFarolError(error, 'CERT_MISSING') && /permission denied/.test(error.message));
    }
    await assert.rejects(stat(join(caDir, 'x.pem')), { code: 'ENOENT' });
  });

  it('refuses an expired CA, saying that a new CA must reach every client', async () => {
    const expiredDir = join(temp.dir, 'expired');
    const ca = await certificateAuthorityValid(new Date(Date.now() - 400 * DAY_MS), new Date(Date.now() - DAY_MS));
    await writePair(expiredDir, 'ca', ca);
    await assert.rejects(issueLeaf({ caDir: expiredDir, name: 'x' }), (error) => {
      assert.ok(isFarolError(error, 'CERT_INVALID'));
      assert.match(error.message, /expired on/);
      assert.match(error.hint ?? '', /--replace-ca/);
      assert.match(error.hint ?? '', /every client and service then needs the new .*ca\.pem/);
      return true;
    });
  });

  it('cuts a lifetime longer than the CA to the CA, and says so', async () => {
    const shortDir = join(temp.dir, 'short');
    const ca = await certificateAuthorityValid(new Date(Date.now() - DAY_MS), new Date(Date.now() + 10 * DAY_MS));
    await writePair(shortDir, 'ca', ca);
    const result = await issueLeaf({ caDir: shortDir, validityDays: 365 });
    assert.equal(result.cutToCaExpiry, true);
    assert.ok(result.notAfter.getTime() <= Date.now() + 10 * DAY_MS);
  });

  it('refuses absurd lifetimes and mixed server and client requests as CONFIG_INVALID', async () => {
    for (const validityDays of [0, -1, 36_501, 1e12, Number.NaN]) {
      await assert.rejects(issueLeaf({ caDir, validityDays, name: 'x' }), (error) => isFarolError(error, 'CONFIG_INVALID'), String(validityDays));
    }
    await assert.rejects(issueLeaf({ caDir, client: 'bob', hosts: ['api1'] }), (error) => isFarolError(error, 'CONFIG_INVALID'));
    await assert.rejects(stat(join(caDir, 'x.pem')), { code: 'ENOENT' });
  });
});
