import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { FarolError } from '../errors.js';
import { loadX509, type X509 } from './crypto-provider.js';
import { daysLeft } from './expiry.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

export const NO_SUBJECT_ALT_NAMES_WARNING =
  'no subject alternative names: TLS clients that ignore the CN (Go, hence Consul\'s HTTPS checks) will not accept it';

export interface CertificateDescription {
  /** RFC 4514 form, e.g. "CN=api" or "CN=alice, OU=ops". */
  subject: string;
  issuer: string;
  /** Issued by itself (subject = issuer and its own key verifies the signature). */
  selfSigned: boolean;
  subjectAltNames: { dns: string[]; ip: string[]; uri: string[]; email: string[] };
  /** Hex, upper case, as OpenSSL prints it. */
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** Whole days until notAfter, rounded down; negative once expired. */
  daysLeft: number;
  expired: boolean;
  /** e.g. "EC P-256", "RSA 2048", "Ed25519". */
  keyType: string;
  /**
   * What the certificate may authenticate in TLS: from its extended key usage, or both when it has
   * none (then nothing restricts it) unless its key usage allows no TLS signature at all (a pure CA).
   */
  usage: ('server' | 'client')[];
  /** Other extended key usages, as OIDs. */
  otherUsages: string[];
  isCa: boolean;
  fingerprintSha256: string;
  /** What a TLS peer will object to, one sentence each. */
  warnings: string[];
}

const curveNames: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function keyType(certificate: NodeX509Certificate): string {
  const key = certificate.publicKey;
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ec':
      return `EC ${curveNames[details?.namedCurve ?? ''] ?? details?.namedCurve ?? ''}`.trim();
    case 'rsa':
    case 'rsa-pss':
      return `${key.asymmetricKeyType.toUpperCase()} ${details?.modulusLength ?? ''}`.trim();
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    default:
      return key.asymmetricKeyType ?? 'unknown';
  }
}

function tlsUsage(certificate: X509.X509Certificate): { usage: ('server' | 'client')[]; otherUsages: string[] } {
  const x509 = loadX509();
  const extendedUsages = certificate.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String);
  if (extendedUsages !== undefined) {
    const usage: ('server' | 'client')[] = [];
    if (extendedUsages.includes(SERVER_AUTH)) usage.push('server');
    if (extendedUsages.includes(CLIENT_AUTH)) usage.push('client');
    return { usage, otherUsages: extendedUsages.filter((oid) => oid !== SERVER_AUTH && oid !== CLIENT_AUTH) };
  }
  const keyUsage = certificate.getExtension(x509.KeyUsagesExtension)?.usages;
  const tlsSignature = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyAgreement;
  if (keyUsage !== undefined && (keyUsage & tlsSignature) === 0) return { usage: [], otherUsages: [] };
  return { usage: ['server', 'client'], otherUsages: [] };
}

function subjectAltNames(certificate: X509.X509Certificate): CertificateDescription['subjectAltNames'] {
  const names = { dns: [] as string[], ip: [] as string[], uri: [] as string[], email: [] as string[] };
  for (const { type, value } of certificate.getExtension(loadX509().SubjectAlternativeNameExtension)?.names.toJSON() ?? []) {
    if (type === 'dns') names.dns.push(value);
    else if (type === 'ip') names.ip.push(value);
    else if (type === 'url') names.uri.push(value);
    else if (type === 'email') names.email.push(value);
  }
  return names;
}

function notACertificate(what: string, cause?: unknown): FarolError {
  return new FarolError('CERT_INVALID', `${what} is not a PEM certificate`, {
    hint: 'give a file starting with -----BEGIN CERTIFICATE----- (a private key file cannot be shown)',
    cause,
  });
}

/** Describes one PEM certificate (the first one in `pem`). Pure apart from reading the clock through `now`. */
export function describeCertificate(pem: string, now: Date = new Date()): CertificateDescription {
  let certificate: X509.X509Certificate;
  let nodeCertificate: NodeX509Certificate;
  try {
    certificate = new (loadX509().X509Certificate)(pem);
    nodeCertificate = new NodeX509Certificate(pem);
  } catch (error) {
    throw notACertificate('The text', error);
  }
  const altNames = subjectAltNames(certificate);
  const { usage, otherUsages } = tlsUsage(certificate);
  const isCa = nodeCertificate.ca;
  const warnings: string[] = [];
  const nameCount = altNames.dns.length + altNames.ip.length + altNames.uri.length + altNames.email.length;
  if (nameCount === 0 && usage.includes('server')) warnings.push(NO_SUBJECT_ALT_NAMES_WARNING);
  const left = daysLeft(certificate.notAfter, now);
  if (now.getTime() > certificate.notAfter.getTime()) warnings.push(`expired ${-left} day${left === -1 ? '' : 's'} ago`);
  else if (now.getTime() < certificate.notBefore.getTime()) warnings.push(`not valid before ${certificate.notBefore.toISOString()}`);
  return {
    subject: certificate.subject,
    issuer: certificate.issuer,
    selfSigned: certificate.subject === certificate.issuer && nodeCertificate.verify(nodeCertificate.publicKey),
    subjectAltNames: altNames,
    serialNumber: nodeCertificate.serialNumber.toUpperCase(),
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    daysLeft: left,
    expired: now.getTime() > certificate.notAfter.getTime(),
    keyType: keyType(nodeCertificate),
    usage,
    otherUsages,
    isCa,
    fingerprintSha256: nodeCertificate.fingerprint256,
    warnings,
  };
}

/** Every PEM certificate block in a text, in order. */
export function pemCertificates(text: string): string[] {
  return text.match(PEM_CERTIFICATE) ?? [];
}

/** Describes every certificate in a PEM file (a certificate with its chain, or a CA bundle). */
export async function describeCertificateFile(file: string, now: Date = new Date()): Promise<CertificateDescription[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FarolError('CERT_MISSING', `${file} does not exist`, { hint: 'check the path', cause: error });
    if (code === 'EISDIR') throw new FarolError('CERT_INVALID', `${file} is a directory`, { hint: 'name the PEM files in it, e.g. certs/*.pem', cause: error });
    throw new FarolError('CERT_MISSING', `${file} cannot be read (${code ?? String(error)})`, { hint: 'let the user running farol read it', cause: error });
  }
  const blocks = pemCertificates(text);
  if (blocks.length === 0) throw notACertificate(file);
  return blocks.map((block, index) => {
    try {
      return describeCertificate(block, now);
    } catch (error) {
      throw notACertificate(blocks.length > 1 ? `Block ${index + 1} of ${blocks.length} in ${file}` : file, error);
    }
  });
}
