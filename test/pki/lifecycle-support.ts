import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EC_P256_SHA256, loadX509 } from '../../src/pki/crypto-provider.js';
import { CERT_FILE_MODE, KEY_FILE_MODE, writeFileAtomic } from '../../src/pki/files.js';
import { exportPrivateKeyPem, generateEcKeyPair } from '../../src/pki/keys.js';
import type { PemPair } from '../../src/pki/types.js';

const x509 = loadX509();

export const DAY_MS = 86_400_000;
const run = promisify(execFile);

/** Writes a certificate and key as `farol certs init` would (<base>.pem and <base>-key.pem; cert.pem and key.pem for "cert"). */
export async function writePair(dir: string, base: string, pair: PemPair): Promise<{ certFile: string; keyFile: string }> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, base === 'cert' ? 'cert.pem' : `${base}.pem`);
  const keyFile = join(dir, base === 'cert' ? 'key.pem' : `${base}-key.pem`);
  await writeFileAtomic(certFile, pair.certPem, CERT_FILE_MODE);
  await writeFileAtomic(keyFile, pair.keyPem, KEY_FILE_MODE);
  return { certFile, keyFile };
}

/** A CA whose validity window is given outright (e.g. already expired), which createCertificateAuthority cannot make. */
export async function certificateAuthorityValid(notBefore: Date, notAfter: Date): Promise<PemPair> {
  const keys = await generateEcKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Test CA',
    notBefore,
    notAfter,
    signingAlgorithm: EC_P256_SHA256,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  return { certPem: certificate.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/** The original project's certificate: `openssl req -x509 -newkey rsa:2048 -nodes ... -subj /CN=localhost` (RSA 2048 to keep it quick). */
export async function opensslSelfSigned(dir: string): Promise<{ certFile: string; keyFile: string }> {
  await run(
    '/usr/bin/openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '365', '-subj', '/CN=localhost'],
    { cwd: dir, timeout: 60_000 },
  );
  return { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
}

/** What OpenSSL itself says about a certificate file, e.g. "-serial" gives "serial=0A1B...". */
export async function openssl(args: string[]): Promise<string> {
  return (await run('/usr/bin/openssl', args, { timeout: 30_000 })).stdout.trim();
}

/** Every file in a directory with its bytes, sorted by name. */
export async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) files.set(name, await readFile(join(dir, name)));
  return files;
}
