import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isFarolError, type ErrorCode } from '../../src/errors.js';
import { createCertificateAuthority, issueCertificate, loadCaBundle, loadServerTls, serverSubjectAltNames, type PemPair } from '../../src/pki/index.js';
import { makeTempDir } from './pki-test-support.js';

function farolError(code: ErrorCode, ...patterns: (RegExp | string)[]) {
  return (error: unknown) => {
    assert.ok(isFarolError(error, code), `expected FarolError ${code}, got ${String(error)}`);
    for (const pattern of patterns) {
      if (typeof pattern === 'string') assert.ok(error.message.includes(pattern), `message "${error.message}" lacks "${pattern}"`);
      else assert.match(error.message, pattern);
    }
    assert.ok(error.hint, 'a hint is given');
    assert.doesNotMatch(error.message, /\n/, 'the message is one line');
    return true;
  };
}

describe('loading server TLS files', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let ca: PemPair;
  let server: PemPair;
  const file = (name: string) => join(temp.dir, name);
  const write = async (name: string, content: string) => {
    await writeFile(file(name), content);
    return file(name);
  };

  before(async () => {
    temp = await makeTempDir();
    ca = await createCertificateAuthority();
    server = await issueCertificate(ca, { commonName: 'api', usage: 'server', ...serverSubjectAltNames(['api']) });
    await write('ca.pem', ca.certPem);
    await write('cert.pem', server.certPem);
    await write('key.pem', server.keyPem);
  });

  after(async () => {
    await temp.remove();
  });

  it('returns the PEM texts and the file names when everything is in order', async () => {
    const material = await loadServerTls({ certFile: file('cert.pem'), keyFile: file('key.pem'), caFile: file('ca.pem') });
    assert.deepEqual(material, {
      cert: server.certPem,
      key: server.keyPem,
      ca: ca.certPem,
      certFile: file('cert.pem'),
      keyFile: file('key.pem'),
      caFile: file('ca.pem'),
    });
  });

  it('leaves ca and caFile out when no CA file is given', async () => {
    const material = await loadServerTls({ certFile: file('cert.pem'), keyFile: file('key.pem') });
    assert.equal('ca' in material, false);
    assert.equal('caFile' in material, false);
  });

  it('accepts a certificate file that carries its chain (leaf first)', async () => {
    const chain = await write('chain.pem', server.certPem + ca.certPem);
    const material = await loadServerTls({ certFile: chain, keyFile: file('key.pem') });
    assert.equal(material.cert, server.certPem + ca.certPem);
  });

  it('accepts a PKCS#1 RSA or SEC1 EC key as well as PKCS#8', async () => {
    const sec1 = createPrivateKey(server.keyPem).export({ type: 'sec1', format: 'pem' }).toString();
    const keyFile = await write('sec1-key.pem', sec1);
    assert.match(sec1, /BEGIN EC PRIVATE KEY/);
    await loadServerTls({ certFile: file('cert.pem'), keyFile });
  });

  it('reports a missing certificate file as CERT_MISSING naming the path, with the init command as hint', async () => {
    const missing = file('nowhere/cert.pem');
    await assert.rejects(loadServerTls({ certFile: missing, keyFile: file('key.pem') }), (error) => {
      farolError('CERT_MISSING', missing)(error);
      assert.ok(isFarolError(error));
      assert.ok(error.hint?.includes(`farol certs init --dir ${file('nowhere')}`), error.hint);
      return true;
    });
  });

  it('reports a missing key file and a missing CA file as CERT_MISSING naming each path', async () => {
    await assert.rejects(loadServerTls({ certFile: file('cert.pem'), keyFile: file('no-key.pem') }), farolError('CERT_MISSING', file('no-key.pem')));
    await assert.rejects(
      loadServerTls({ certFile: file('cert.pem'), keyFile: file('key.pem'), caFile: file('no-ca.pem') }),
      farolError('CERT_MISSING', file('no-ca.pem')),
    );
  });

  it('reports a file that is not PEM as CERT_INVALID', async () => {
    const garbage = await write('garbage.pem', 'this is not a certificate\n');
    await assert.rejects(loadServerTls({ certFile: garbage, keyFile: file('key.pem') }), farolError('CERT_INVALID', garbage, 'no PEM certificate'));
    await assert.rejects(loadServerTls({ certFile: file('cert.pem'), keyFile: garbage }), farolError('CERT_INVALID', garbage, 'private key'));
  });

  it('reports a PEM block whose content is corrupt as CERT_INVALID', async () => {
    const corrupt = await write('corrupt.pem', '-----BEGIN CERTIFICATE-----\nTUlJQm9vcHM=\n-----END CERTIFICATE-----\n');
    await assert.rejects(loadServerTls({ certFile: corrupt, keyFile: file('key.pem') }), farolError('CERT_INVALID', corrupt, 'cannot be parsed'));
  });

  it('reports a directory given as a certificate file as CERT_INVALID', async () => {
    const directory = file('a-directory');
    await mkdir(directory, { recursive: true });
    await assert.rejects(loadServerTls({ certFile: directory, keyFile: file('key.pem') }), farolError('CERT_INVALID', directory));
  });

  it('reports a key that does not match the certificate as CERT_INVALID naming both files', async () => {
    const otherKey = await write('other-key.pem', ca.keyPem);
    await assert.rejects(
      loadServerTls({ certFile: file('cert.pem'), keyFile: otherKey }),
      farolError('CERT_INVALID', otherKey, file('cert.pem'), 'does not match'),
    );
  });

  it('reports an encrypted key as CERT_INVALID', async () => {
    const encrypted = createPrivateKey(server.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString();
    const keyFile = await write('encrypted-key.pem', encrypted);
    await assert.rejects(loadServerTls({ certFile: file('cert.pem'), keyFile }), farolError('CERT_INVALID', keyFile, 'encrypted'));
  });

  it('reports an expired certificate as CERT_INVALID', async () => {
    const expired = await issueCertificate(ca, {
      commonName: 'api',
      usage: 'server',
      dnsNames: ['localhost'],
      notBefore: new Date(Date.now() - 30 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const certFile = await write('expired.pem', expired.certPem);
    const keyFile = await write('expired-key.pem', expired.keyPem);
    await assert.rejects(loadServerTls({ certFile, keyFile }), farolError('CERT_INVALID', certFile, 'expired'));
  });

  it('reports a certificate that is not valid yet as CERT_INVALID', async () => {
    const future = await issueCertificate(ca, {
      commonName: 'api',
      usage: 'server',
      notBefore: new Date(Date.now() + 86_400_000),
      notAfter: new Date(Date.now() + 30 * 86_400_000),
    });
    const certFile = await write('future.pem', future.certPem);
    const keyFile = await write('future-key.pem', future.keyPem);
    await assert.rejects(loadServerTls({ certFile, keyFile }), farolError('CERT_INVALID', certFile, 'not valid until'));
  });

  it('reports an invalid CA file as CERT_INVALID', async () => {
    const garbage = await write('garbage-ca.pem', 'nope');
    await assert.rejects(
      loadServerTls({ certFile: file('cert.pem'), keyFile: file('key.pem'), caFile: garbage }),
      farolError('CERT_INVALID', garbage),
    );
  });
});

describe('loading a CA bundle', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let ca: PemPair;
  let expired: PemPair;
  const file = (name: string) => join(temp.dir, name);

  before(async () => {
    temp = await makeTempDir();
    ca = await createCertificateAuthority();
    expired = await issueCertificate(ca, {
      commonName: 'old',
      usage: 'server',
      notBefore: new Date(Date.now() - 30 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
  });

  after(async () => {
    await temp.remove();
  });

  it('returns the PEM text of a single CA or of a bundle', async () => {
    const other = await createCertificateAuthority();
    await writeFile(file('one.pem'), ca.certPem);
    await writeFile(file('bundle.pem'), ca.certPem + other.certPem);
    assert.equal(await loadCaBundle(file('one.pem')), ca.certPem);
    assert.equal(await loadCaBundle(file('bundle.pem')), ca.certPem + other.certPem);
  });

  it('accepts a bundle in which some, but not all, certificates have expired', async () => {
    await writeFile(file('mixed.pem'), expired.certPem + ca.certPem);
    assert.equal(await loadCaBundle(file('mixed.pem')), expired.certPem + ca.certPem);
  });

  it('reports a missing file as CERT_MISSING', async () => {
    await assert.rejects(loadCaBundle(file('missing.pem')), farolError('CERT_MISSING', file('missing.pem')));
  });

  it('reports a file without certificates as CERT_INVALID', async () => {
    await writeFile(file('key-only.pem'), ca.keyPem);
    await assert.rejects(loadCaBundle(file('key-only.pem')), farolError('CERT_INVALID', file('key-only.pem')));
  });

  it('reports a bundle whose certificates have all expired as CERT_INVALID', async () => {
    await writeFile(file('expired.pem'), expired.certPem);
    await assert.rejects(loadCaBundle(file('expired.pem')), farolError('CERT_INVALID', file('expired.pem'), 'expired'));
  });
});
