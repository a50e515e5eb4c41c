import { X509Certificate as NodeX509Certificate, createPrivateKey } from 'node:crypto';
import { FarolError } from '../errors.js';
import { x509 } from './crypto-provider.js';
import { exportPrivateKeyPem, generateEcKeyPair, importSigningKey } from './keys.js';
import { randomSerialNumber } from './serial-number.js';
import { generalNames } from './subject-alt-names.js';
import type { CertificateUsage, PemPair } from './types.js';
import { validityWindow } from './validity.js';

export const DEFAULT_LEAF_VALIDITY_DAYS = 365;

export interface IssueCertificateOptions {
  commonName: string;
  /** Organizational units in the subject (OU=...); the certificate authenticator reads them as groups. */
  organizationalUnits?: string[];
  usage: CertificateUsage;
  dnsNames?: string[];
  ipAddresses?: string[];
  uris?: string[];
  validityDays?: number;
  notBefore?: Date;
  notAfter?: Date;
}

const extendedKeyUsages: Record<CertificateUsage, x509.ExtendedKeyUsage[]> = {
  server: [x509.ExtendedKeyUsage.serverAuth],
  client: [x509.ExtendedKeyUsage.clientAuth],
  both: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
};

function invalidCa(message: string, cause?: unknown): FarolError {
  return new FarolError('CERT_INVALID', message, {
    hint: 'pass the ca.pem and ca-key.pem written by `farol certs init`, or another CA certificate with its own key',
    cause,
  });
}

/** Parses and checks the CA pair: a CA certificate whose private key matches it. */
function parseCertificateAuthority(ca: PemPair): x509.X509Certificate {
  let certificate: x509.X509Certificate;
  let nodeCertificate: NodeX509Certificate;
  try {
    certificate = new x509.X509Certificate(ca.certPem);
    nodeCertificate = new NodeX509Certificate(ca.certPem);
  } catch (error) {
    throw invalidCa('The CA certificate is not a valid PEM certificate', error);
  }
  if (!nodeCertificate.ca) throw invalidCa(`The certificate "${certificate.subject}" is not a CA certificate (basicConstraints CA:false)`);
  let matches: boolean;
  try {
    matches = nodeCertificate.checkPrivateKey(createPrivateKey(ca.keyPem));
  } catch (error) {
    throw invalidCa('The CA private key is not a valid PEM private key', error);
  }
  if (!matches) throw invalidCa(`The CA private key does not belong to the CA certificate "${certificate.subject}"`);
  return certificate;
}

async function authorityKeyIdentifier(caCertificate: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  const subjectKeyId = caCertificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  if (subjectKeyId) return new x509.AuthorityKeyIdentifierExtension(subjectKeyId);
  return x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey);
}

/**
 * Issues a leaf certificate (ECDSA P-256) signed by `ca`. The leaf never outlives its CA: a notAfter
 * past the CA's is cut back to the CA's notAfter.
 */
export async function issueCertificate(ca: PemPair, opts: IssueCertificateOptions): Promise<PemPair> {
  if (opts.commonName.trim() === '') {
    throw new FarolError('CONFIG_INVALID', 'A certificate needs a non-empty common name', { hint: 'pass commonName, e.g. the service name' });
  }
  const ekus = Object.hasOwn(extendedKeyUsages, opts.usage) ? extendedKeyUsages[opts.usage] : undefined;
  if (!ekus) {
    throw new FarolError('CONFIG_INVALID', `Unknown certificate usage "${String(opts.usage)}"`, { hint: "use 'server', 'client' or 'both'" });
  }
  const organizationalUnits = opts.organizationalUnits ?? [];
  if (organizationalUnits.some((unit) => unit.trim() === '')) {
    throw new FarolError('CONFIG_INVALID', 'An organizational unit of a certificate cannot be empty', { hint: 'leave out empty organizationalUnits' });
  }
  const altNames = generalNames(opts);
  const window = validityWindow(opts, DEFAULT_LEAF_VALIDITY_DAYS);
  const caCertificate = parseCertificateAuthority(ca);
  const signing = await importSigningKey(ca.keyPem).catch((error: unknown) => {
    throw invalidCa(`The CA private key cannot sign certificates (${(error as Error).message})`, error);
  });
  const notAfter = window.notAfter > caCertificate.notAfter ? caCertificate.notAfter : window.notAfter;
  const keys = await generateEcKeyPair();

  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(ekus, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await authorityKeyIdentifier(caCertificate),
  ];
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames, false));

  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [...organizationalUnits.map((unit) => ({ OU: [unit] })), { CN: [opts.commonName] }],
    issuer: caCertificate.subjectName,
    notBefore: window.notBefore,
    notAfter,
    signingAlgorithm: signing.algorithm,
    publicKey: keys.publicKey,
    signingKey: signing.key,
    extensions,
  });
  return { certPem: certificate.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}
