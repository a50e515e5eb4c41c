import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FarolError, systemErrorCode } from '../errors.js';
import { EC_P256_SHA256, loadX509 } from './crypto-provider.js';
import { CERT_FILE_NAMES } from './file-names.js';
import { parseCertificateAuthority } from './issue.js';
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
  const x509 = loadX509();
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

export interface LoadedCertificateAuthority extends PemPair {
  certFile: string;
  keyFile: string;
  subject: string;
  notAfter: Date;
}

/** What to do about an expired CA: a new one, which every client and service must then be given. */
export function expiredCaHint(dir: string): string {
  return (
    `check the system clock; an expired CA cannot be renewed in place: \`farol certs init --dir ${dir} --replace-ca\` makes a new CA ` +
    `and new certificates, and every client and service then needs the new ${join(dir, CERT_FILE_NAMES.ca)}`
  );
}

async function readCaFile(file: string, dir: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = systemErrorCode(error);
    if (code === 'ENOENT') {
      throw new FarolError('CERT_MISSING', `No CA in ${dir}: ${basename(file)} does not exist`, {
        hint: `create one with \`farol certs init --dir ${dir}\`, or pass --dir with the directory holding ${CERT_FILE_NAMES.ca} and ${CERT_FILE_NAMES.caKey}`,
        cause: error,
      });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new FarolError('CERT_MISSING', `The ${what} ${file} cannot be read (permission denied)`, {
        hint: 'run farol as the user that owns the CA files (the key is mode 0600), where the CA key is kept',
        cause: error,
      });
    }
    throw new FarolError('CERT_INVALID', `The ${what} ${file} cannot be read (${code ?? String(error)})`, {
      hint: `it should be the PEM file \`farol certs init --dir ${dir}\` wrote`,
      cause: error,
    });
  }
}

/**
 * Reads the CA that `farol certs init` wrote into `dir` (ca.pem and ca-key.pem) to issue with it:
 * a CA certificate, its matching key, and not expired.
 */
export async function loadCertificateAuthority(dir: string, now: Date = new Date()): Promise<LoadedCertificateAuthority> {
  const certFile = join(dir, CERT_FILE_NAMES.ca);
  const keyFile = join(dir, CERT_FILE_NAMES.caKey);
  const certPem = await readCaFile(certFile, dir, 'CA certificate');
  const keyPem = await readCaFile(keyFile, dir, 'CA private key');
  const certificate = parseCertificateAuthority({ certPem, keyPem });
  if (certificate.notAfter.getTime() <= now.getTime()) {
    throw new FarolError('CERT_INVALID', `The CA in ${certFile} expired on ${certificate.notAfter.toISOString()}: it cannot issue certificates`, {
      hint: expiredCaHint(dir),
    });
  }
  return { certPem, keyPem, certFile, keyFile, subject: certificate.subject, notAfter: certificate.notAfter };
}
