import assert from 'node:assert/strict';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { isFarolError } from '../../src/errors.js';
import { CERT_FILE_NAMES, clientCertFileNames, initCertificates, loadServerTls } from '../../src/pki/index.js';
import { planInit } from '../../src/pki/init.js';
import { makeTempDir, nodeCertificate } from './pki-test-support.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) files.set(name, await readFile(join(dir, name)));
  return files;
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('certificate file names', () => {
  it('are ca.pem, ca-key.pem, cert.pem, key.pem and client-<name>[-key].pem', () => {
    assert.deepEqual(CERT_FILE_NAMES, { ca: 'ca.pem', caKey: 'ca-key.pem', cert: 'cert.pem', key: 'key.pem' });
    assert.deepEqual(clientCertFileNames('alice'), { cert: 'client-alice.pem', key: 'client-alice-key.pem' });
  });

  it('refuse a client name that could escape the directory or is not a plain name', () => {
    for (const bad of ['', '../evil', 'a/b', 'a\\b', '.hidden', 'x..y', 'sp ace']) {
      assert.throws(() => clientCertFileNames(bad), (error) => isFarolError(error, 'CONFIG_INVALID'), bad);
    }
  });
});

describe('init plan', () => {
  const ca = ['d/ca.pem', 'd/ca-key.pem'];
  const server = ['d/cert.pem', 'd/key.pem'];
  const bob = ['d/client-bob.pem', 'd/client-bob-key.pem'];
  const file = fc.constantFrom(...ca, ...server, ...bob);
  const inputs = fc.record({
    existing: fc.uniqueArray(file),
    force: fc.boolean(),
    replaceCa: fc.boolean(),
    serverRequested: fc.boolean(),
    withClient: fc.boolean(),
  });
  const plan = (input: { existing: string[]; force: boolean; replaceCa: boolean; serverRequested: boolean; withClient: boolean }) =>
    planInit({ ...input, caFiles: ca, serverFiles: server, clientFiles: input.withClient ? bob : [] });

  it('makes a new CA with replaceCa, whatever exists', () => {
    fc.assert(fc.property(inputs, (input) => assert.deepEqual(plan({ ...input, replaceCa: true }), { action: 'create-all' })));
  });

  it('makes a new CA and everything else when nothing exists', () => {
    fc.assert(fc.property(inputs, (input) => assert.deepEqual(plan({ ...input, existing: [], replaceCa: false }), { action: 'create-all' })));
  });

  it('never replaces an existing CA without replaceCa, force or not: it issues with it', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const result = plan({ ...input, existing: [...new Set([...ca, ...input.existing])], replaceCa: false });
        assert.notEqual(result.action, 'create-all');
        if (input.force) assert.deepEqual(result, { action: 'use-ca', server: input.serverRequested });
      }),
    );
  });

  it('without force never writes over a file that exists, and a refusal names only existing files', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const result = plan({ ...input, force: false, replaceCa: false });
        const clients = input.withClient ? bob : [];
        if (result.action === 'refuse') {
          assert.ok(result.existing.length > 0);
          assert.ok(result.existing.every((f) => input.existing.includes(f)));
        } else {
          const written = result.action === 'create-all' ? [...ca, ...server, ...clients] : [...(result.server ? server : []), ...clients];
          assert.deepEqual(written.filter((f) => input.existing.includes(f)), []);
        }
      }),
    );
  });

  it('refuses half a CA even with force, naming the half that is there', () => {
    fc.assert(
      fc.property(inputs, fc.constantFrom(...ca), (input, half) => {
        const existing = [half, ...input.existing.filter((f) => !ca.includes(f))];
        assert.deepEqual(plan({ ...input, existing, replaceCa: false }), { action: 'refuse', reason: 'ca-incomplete', existing: [half] });
      }),
    );
  });
});

describe('initCertificates', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let dir: string;

  beforeEach(async () => {
    temp = await makeTempDir();
    dir = join(temp.dir, 'certs');
  });

  afterEach(async () => {
    await temp.remove();
  });

  it('creates the directory and writes the CA, the server pair and each client pair', async () => {
    const result = await initCertificates({ dir, services: ['api'], clients: ['alice', 'bob'] });
    const path = (name: string) => join(dir, name);
    assert.deepEqual(result, {
      dir,
      written: [
        path('ca.pem'),
        path('ca-key.pem'),
        path('cert.pem'),
        path('key.pem'),
        path('client-alice.pem'),
        path('client-alice-key.pem'),
        path('client-bob.pem'),
        path('client-bob-key.pem'),
      ],
      createdCa: true,
      caFile: path('ca.pem'),
      certFile: path('cert.pem'),
      keyFile: path('key.pem'),
      clients: [
        { name: 'alice', certFile: path('client-alice.pem'), keyFile: path('client-alice-key.pem') },
        { name: 'bob', certFile: path('client-bob.pem'), keyFile: path('client-bob-key.pem') },
      ],
    });
    // Nothing else is left behind, such as temporary files.
    assert.deepEqual((await readdir(dir)).sort(), result.written.map((file) => file.slice(dir.length + 1)).sort());
  });

  it('writes private keys with mode 0600 and certificates with mode 0644', async () => {
    const result = await initCertificates({ dir, clients: ['alice'] });
    for (const keyFile of [join(dir, 'ca-key.pem'), result.keyFile, join(dir, 'client-alice-key.pem')]) {
      assert.equal(await mode(keyFile), 0o600, keyFile);
    }
    for (const certFile of [result.caFile, result.certFile, join(dir, 'client-alice.pem')]) {
      assert.equal(await mode(certFile), 0o644, certFile);
    }
  });

  it('writes a server certificate that loads, is issued by the CA and names the services', async () => {
    const result = await initCertificates({ dir, services: ['api', 'web'] });
    await loadServerTls({ certFile: result.certFile, keyFile: result.keyFile, caFile: result.caFile });
    const ca = nodeCertificate(await readFile(result.caFile, 'utf8'));
    const server = nodeCertificate(await readFile(result.certFile, 'utf8'));
    assert.equal(ca.ca, true);
    assert.equal(server.checkIssued(ca), true);
    assert.equal(server.verify(ca.publicKey), true);
    assert.deepEqual(server.keyUsage, [SERVER_AUTH]);
    assert.equal(server.subject, 'CN=api');
    assert.equal(
      server.subjectAltName,
      'DNS:localhost, DNS:api.service.consul, DNS:web.service.consul, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
  });

  it('adds --host names to the server certificate: DNS names and IP addresses, for instances reached by another name', async () => {
    const result = await initCertificates({ dir, services: ['api'], hosts: ['api1', '10.1.2.3', 'api1'] });
    const server = nodeCertificate(await readFile(result.certFile, 'utf8'));
    assert.equal(
      server.subjectAltName,
      'DNS:localhost, DNS:api.service.consul, DNS:api1, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10.1.2.3',
    );
  });

  it('writes client certificates for client authentication, named after the client and issued by the CA', async () => {
    const result = await initCertificates({ dir, clients: ['alice'] });
    const [alice] = result.clients;
    assert.ok(alice);
    await loadServerTls({ certFile: alice.certFile, keyFile: alice.keyFile });
    const ca = nodeCertificate(await readFile(result.caFile, 'utf8'));
    const client = nodeCertificate(await readFile(alice.certFile, 'utf8'));
    assert.equal(client.subject, 'CN=alice');
    assert.deepEqual(client.keyUsage, [CLIENT_AUTH]);
    assert.equal(client.subjectAltName, 'URI:spiffe://farol.local/client/alice');
    assert.equal(client.checkIssued(ca), true);
  });

  it('uses validityDays for the server and client certificates', async () => {
    const result = await initCertificates({ dir, clients: ['alice'], validityDays: 30 });
    for (const certFile of [result.certFile, join(dir, 'client-alice.pem')]) {
      const validTo = new Date(nodeCertificate(await readFile(certFile, 'utf8')).validTo).getTime();
      assert.ok(Math.abs(validTo - (Date.now() + 30 * 86_400_000)) < 10_000, certFile);
    }
  });

  it('refuses to run again without force: CERT_EXISTS naming the certificates, pointing at issue and renew, every byte as it was', async () => {
    await initCertificates({ dir, services: ['api'], clients: ['alice'] });
    const before = await snapshot(dir);
    await assert.rejects(initCertificates({ dir, services: ['api'], clients: ['alice'] }), (error) => {
      assert.ok(isFarolError(error, 'CERT_EXISTS'));
      assert.match(error.message, /: cert\.pem, key\.pem, client-alice\.pem, client-alice-key\.pem$/);
      assert.match(error.hint ?? '', /CA .* is kept/);
      assert.match(error.hint ?? '', /--force/);
      assert.match(error.hint ?? '', /farol certs issue --dir .* --force/);
      assert.match(error.hint ?? '', /farol certs renew --dir /);
      assert.match(error.hint ?? '', /--replace-ca makes a new CA instead \(every client and service then needs the new .*ca\.pem\)/);
      return true;
    });
    assert.deepEqual(await snapshot(dir), before);
  });

  it('refuses half a CA, even with force, naming the half that is there', async () => {
    await initCertificates({ dir });
    await rm(join(dir, 'ca.pem'));
    const before = await snapshot(dir);
    for (const force of [false, true]) {
      await assert.rejects(initCertificates({ dir, force }), (error) => {
        assert.ok(isFarolError(error, 'CERT_EXISTS'));
        assert.match(error.message, /: ca-key\.pem$/);
        assert.match(error.hint ?? '', /--replace-ca/);
        return true;
      });
    }
    assert.deepEqual(await snapshot(dir), before);
  });

  it('refuses certificates with no CA beside them unless forced', async () => {
    await initCertificates({ dir });
    await rm(join(dir, 'ca.pem'));
    await rm(join(dir, 'ca-key.pem'));
    await assert.rejects(initCertificates({ dir }), (error) => isFarolError(error, 'CERT_EXISTS') && /: cert\.pem, key\.pem$/.test(error.message));
    const result = await initCertificates({ dir, force: true });
    assert.equal(result.createdCa, true);
  });

  it('with force re-issues the server and client certificates from the existing CA, which stays byte for byte', async () => {
    await initCertificates({ dir, services: ['api'], clients: ['alice'] });
    const before = await snapshot(dir);
    const result = await initCertificates({ dir, services: ['api'], clients: ['alice'], force: true });
    assert.equal(result.createdCa, false);
    const after = await snapshot(dir);
    assert.deepEqual(after.get('ca.pem'), before.get('ca.pem'));
    assert.deepEqual(after.get('ca-key.pem'), before.get('ca-key.pem'));
    for (const name of ['cert.pem', 'key.pem', 'client-alice.pem', 'client-alice-key.pem']) assert.notDeepEqual(after.get(name), before.get(name), name);
    const ca = nodeCertificate(await readFile(result.caFile, 'utf8'));
    assert.equal(nodeCertificate(await readFile(result.certFile, 'utf8')).checkIssued(ca), true);
    assert.equal(nodeCertificate(await readFile(result.certFile, 'utf8')).subject, 'CN=api');
    assert.equal(await mode(join(dir, 'key.pem')), 0o600);
  });

  it('issues a missing server certificate with the existing CA when only the CA is there', async () => {
    await initCertificates({ dir });
    await rm(join(dir, 'cert.pem'));
    await rm(join(dir, 'key.pem'));
    const ca = await readFile(join(dir, 'ca.pem'));
    const result = await initCertificates({ dir, services: ['web'] });
    assert.deepEqual(result.written, [join(dir, 'cert.pem'), join(dir, 'key.pem')]);
    assert.deepEqual(await readFile(join(dir, 'ca.pem')), ca);
    assert.ok(nodeCertificate(await readFile(result.certFile, 'utf8')).checkHost('web.service.consul'));
  });

  it('replaces every file with replaceCa, creating a new CA and keeping key modes', async () => {
    await initCertificates({ dir, clients: ['alice'] });
    const before = await snapshot(dir);
    const result = await initCertificates({ dir, clients: ['alice'], replaceCa: true });
    assert.equal(result.createdCa, true);
    const after = await snapshot(dir);
    assert.deepEqual([...after.keys()], [...before.keys()]);
    for (const [name, content] of after) assert.notDeepEqual(content, before.get(name), `${name} was rewritten`);
    assert.equal(await mode(join(dir, 'ca-key.pem')), 0o600);
    const ca = nodeCertificate(await readFile(result.caFile, 'utf8'));
    assert.equal(nodeCertificate(await readFile(result.certFile, 'utf8')).checkIssued(ca), true);
  });

  it('adds a new client to an existing CA without touching the other files', async () => {
    await initCertificates({ dir, services: ['api'] });
    const before = await snapshot(dir);
    const result = await initCertificates({ dir, clients: ['bob'] });
    assert.deepEqual(result.written, [join(dir, 'client-bob.pem'), join(dir, 'client-bob-key.pem')]);
    const after = await snapshot(dir);
    for (const [name, content] of before) assert.deepEqual(after.get(name), content, `${name} unchanged`);
    const ca = nodeCertificate(await readFile(join(dir, 'ca.pem'), 'utf8'));
    const bob = nodeCertificate(await readFile(join(dir, 'client-bob.pem'), 'utf8'));
    assert.equal(bob.checkIssued(ca), true);
    assert.equal(bob.verify(ca.publicKey), true);
    assert.equal(bob.subjectAltName, 'URI:spiffe://farol.local/client/bob');
    assert.equal(await mode(join(dir, 'client-bob-key.pem')), 0o600);
  });

  it('refuses to add a client whose files already exist, or a service when the server certificate exists', async () => {
    await initCertificates({ dir, clients: ['bob'] });
    const before = await snapshot(dir);
    await assert.rejects(initCertificates({ dir, clients: ['bob'] }), (error) => isFarolError(error, 'CERT_EXISTS'));
    await assert.rejects(initCertificates({ dir, services: ['api'], clients: ['carol'] }), (error) => isFarolError(error, 'CERT_EXISTS') && /: cert\.pem, key\.pem$/.test(error.message));
    assert.deepEqual(await snapshot(dir), before);
  });

  it('refuses a bad client or service name before writing anything', async () => {
    await assert.rejects(initCertificates({ dir, clients: ['../evil'] }), (error) => isFarolError(error, 'CONFIG_INVALID'));
    await assert.rejects(initCertificates({ dir, services: ['not a dns label'] }), (error) => isFarolError(error, 'CONFIG_INVALID'));
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  });

  it('reports a directory it cannot create as CONFIG_INVALID', async () => {
    const blocker = join(temp.dir, 'a-file');
    await writeFile(blocker, 'not a directory');
    await assert.rejects(initCertificates({ dir: join(blocker, 'certs') }), (error) => isFarolError(error, 'CONFIG_INVALID') && error.message.includes(blocker));
  });
});
