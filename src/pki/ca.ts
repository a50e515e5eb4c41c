import { randomBytes } from 'node:crypto';
import { EC_P256_SHA256, x509 } from './crypto-provider.js';
import { exportPrivateKeyPem, generateEcKeyPair } from './keys.js';
import { randomSerialNumber } from './serial-number.js';
import type { PemPair } from './types.js';
import { validityWindow } from './validity.js';

export const DEFAULT_CA_VALIDITY_DAYS = 3650;

export interface CreateCertificateAuthorityOptions {
  /** Default: "Farol CA <8 hex digits>"; the suffix keeps two Farol CAs in one trust store apart. */
  commonName?: string;
  validityDays?: number;
}

/** A new self-signed CA (ECDSA P-256, SHA-256) that may sign leaf certificates only (pathLen 0). */
export async function createCertificateAuthority(opts: CreateCertificateAuthorityOptions = {}): Promise<PemPair> {
  const { notBefore, notAfter } = validityWindow({ validityDays: opts.validityDays }, DEFAULT_CA_VALIDITY_DAYS);
  const keys = await generateEcKeyPair();
  const commonName = opts.commonName ?? `Farol CA ${randomBytes(4).toString('hex')}`;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [commonName] }],
    notBefore,
    notAfter,
    signingAlgorithm: EC_P256_SHA256,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: certificate.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}
