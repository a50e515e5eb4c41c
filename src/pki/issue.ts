import { X509Certificate as NodeX509Certificate, createPrivateKey } from 'node:crypto';
import { FarolError } from '../errors.js';
import { loadX509, type X509 } from './crypto-provider.js';
import { exportPrivateKeyPem, generateEcKeyPair, importSigningKey } from './keys.js';
import { randomSerialNumber } from './serial-number.js';
import { generalNames } from './subject-alt-names.js';
import type { CertificateUsage, PemPair } from './types.js';
import { validityWindow, type ValidityWindow } from './validity.js';

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

/** The extended key usages of each usage; undefined for an unknown one. */
function extendedKeyUsagesOf(usage: CertificateUsage): X509.ExtendedKeyUsage[] | undefined {
  const { serverAuth, clientAuth } = loadX509().ExtendedKeyUsage;
  const byUsage: Record<CertificateUsage, X509.ExtendedKeyUsage[]> = { server: [serverAuth], client: [clientAuth], both: [serverAuth, clientAuth] };
  return Object.hasOwn(byUsage, usage) ? byUsage[usage] : undefined;
}

function invalidCa(message: string, cause?: unknown): FarolError {
  return new FarolError('CERT_INVALID', message, {
    hint: 'pass the ca.pem and ca-key.pem written by `farol certs init`, or another CA certificate with its own key',
    cause,
  });
}

/** Parses and checks the CA pair: a CA certificate whose private key matches it. */
export function parseCertificateAuthority(ca: PemPair): X509.X509Certificate {
  let certificate: X509.X509Certificate;
  let nodeCertificate: NodeX509Certificate;
  try {
    certificate = new (loadX509().X509Certificate)(ca.certPem);
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

async function authorityKeyIdentifier(caCertificate: X509.X509Certificate): Promise<X509.AuthorityKeyIdentifierExtension> {
  const x509 = loadX509();
  const subjectKeyId = caCertificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  if (subjectKeyId) return new x509.AuthorityKeyIdentifierExtension(subjectKeyId);
  return x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey);
}

/** What a leaf certificate says, apart from its key, serial and issuer. */
export interface LeafTemplate {
  subject: X509.Name;
  /** Extended key usage OIDs; undefined for none (a certificate made elsewhere may have none). */
  extendedKeyUsages: string[] | undefined;
  subjectAltNames: X509.SubjectAlternativeNameExtension | undefined;
  validity: ValidityWindow;
}

export interface SignedLeaf extends PemPair {
  notAfter: Date;
  /** The requested notAfter was past the CA's, so the leaf ends when the CA does. */
  cutToCaExpiry: boolean;
}

/**
 * Signs a new leaf (a fresh ECDSA P-256 key pair, a random serial) with `ca`. The leaf never
 * outlives its CA: a notAfter past the CA's is cut back to the CA's notAfter.
 */
export async function signLeaf(ca: PemPair, template: LeafTemplate): Promise<SignedLeaf> {
  const x509 = loadX509();
  const caCertificate = parseCertificateAuthority(ca);
  const signing = await importSigningKey(ca.keyPem).catch((error: unknown) => {
    throw invalidCa(`The CA private key cannot sign certificates (${(error as Error).message})`, error);
  });
  const cutToCaExpiry = template.validity.notAfter > caCertificate.notAfter;
  const notAfter = cutToCaExpiry ? caCertificate.notAfter : template.validity.notAfter;
  const keys = await generateEcKeyPair();

  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  ];
  if (template.extendedKeyUsages !== undefined) extensions.push(new x509.ExtendedKeyUsageExtension(template.extendedKeyUsages, false));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey), await authorityKeyIdentifier(caCertificate));
  if (template.subjectAltNames !== undefined) extensions.push(template.subjectAltNames);

  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: template.subject,
    issuer: caCertificate.subjectName,
    notBefore: template.validity.notBefore,
    notAfter,
    signingAlgorithm: signing.algorithm,
    publicKey: keys.publicKey,
    signingKey: signing.key,
    extensions,
  });
  return { certPem: certificate.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey), notAfter, cutToCaExpiry };
}

/**
 * Issues a leaf certificate (ECDSA P-256) signed by `ca`. The leaf never outlives its CA: a notAfter
 * past the CA's is cut back to the CA's notAfter.
 */
export async function issueCertificate(ca: PemPair, opts: IssueCertificateOptions): Promise<PemPair> {
  const { certPem, keyPem } = await issueLeafCertificate(ca, opts);
  return { certPem, keyPem };
}

/** issueCertificate, also telling whether the leaf was cut back to the CA's expiry. */
export async function issueLeafCertificate(ca: PemPair, opts: IssueCertificateOptions): Promise<SignedLeaf> {
  const x509 = loadX509();
  if (opts.commonName.trim() === '') {
    throw new FarolError('CONFIG_INVALID', 'A certificate needs a non-empty common name', { hint: 'pass commonName, e.g. the service name' });
  }
  const ekus = extendedKeyUsagesOf(opts.usage);
  if (!ekus) {
    throw new FarolError('CONFIG_INVALID', `Unknown certificate usage "${String(opts.usage)}"`, { hint: "use 'server', 'client' or 'both'" });
  }
  const organizationalUnits = opts.organizationalUnits ?? [];
  if (organizationalUnits.some((unit) => unit.trim() === '')) {
    throw new FarolError('CONFIG_INVALID', 'An organizational unit of a certificate cannot be empty', { hint: 'leave out empty organizationalUnits' });
  }
  const altNames = generalNames(opts);
  const validity = validityWindow(opts, DEFAULT_LEAF_VALIDITY_DAYS);
  return signLeaf(ca, {
    subject: new x509.Name([...organizationalUnits.map((unit) => ({ OU: [unit] })), { CN: [opts.commonName] }]),
    extendedKeyUsages: ekus.map(String),
    subjectAltNames: altNames.length > 0 ? new x509.SubjectAlternativeNameExtension(altNames, false) : undefined,
    validity,
  });
}
