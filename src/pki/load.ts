import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FarolError } from '../errors.js';
import type { CaSource, KeyPairSource } from './sources.js';

/** A server's certificate, key and (optionally) CA as PEM; the file names when they came from files. */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca?: string;
  certFile?: string;
  keyFile?: string;
  caFile?: string;
}

export interface ServerTlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string;
}

/** A CA bundle, checked: every block parses and at least one certificate is valid now. */
export interface LoadedCa {
  /** The PEM text, several sources joined by a newline. */
  pem: string;
  certificates: X509Certificate[];
}

/** A key pair, checked: the key belongs to the leaf, the leaf is valid now (and chains to the CA if one was given). */
export interface LoadedKeyPair {
  /** The leaf first, then any intermediates, as read. */
  certPem: string;
  keyPem: string;
  certificate: X509Certificate;
}

/**
 * Why a key pair was refused, in `FarolError.details.reason`: a TLS provider waits a moment before
 * reporting 'key_mismatch' or 'unreadable' (a pair written as two files is briefly inconsistent).
 */
export type KeyPairProblem = 'unreadable' | 'key_mismatch' | 'not_valid_now' | 'untrusted_issuer';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const MAX_CHAIN_DEPTH = 8;

/** How a file or an option is named in messages. */
interface Origin {
  /** "The certificate file /x/cert.pem" or "The certPem option". */
  name: string;
  /** "/x/cert.pem" or "the certPem option", after "in". */
  where: string;
  file?: string;
}

function fileOrigin(file: string, what: string): Origin {
  return { name: `The ${what} file ${file}`, where: file, file };
}

function optionOrigin(option: string): Origin {
  return { name: `The ${option} option`, where: `the ${option} option`, file: undefined };
}

function initHint(origin: Origin): string {
  if (origin.file === undefined) return 'pass PEM text (-----BEGIN CERTIFICATE----- ...), or a file instead';
  return `run \`farol certs init --dir ${dirname(origin.file)}\` to create certificates there, or pass the path of existing files`;
}

function renewHint(origin: Origin): string {
  if (origin.file === undefined) return 'check the system clock, or issue a new certificate (farol certs issue)';
  return `check the system clock, or issue a new one from the same CA: farol certs renew --dir ${dirname(origin.file)}`;
}

function invalid(message: string, hint: string, cause?: unknown, reason?: KeyPairProblem): FarolError {
  return new FarolError('CERT_INVALID', message, { hint, cause, ...(reason ? { details: { reason } } : {}) });
}

function readError(error: unknown, origin: Origin, what: string): FarolError {
  const code = (error as NodeJS.ErrnoException).code;
  const file = origin.file ?? '';
  if (code === 'EACCES' || code === 'EPERM') {
    return new FarolError('CERT_MISSING', `The ${what} file ${file} cannot be read (permission denied)`, {
      hint: `let the user running farol read it (keys should be mode 0600 and owned by that user), or ${initHint(origin)}`,
      cause: error,
      details: { reason: 'unreadable' },
    });
  }
  if (code === 'EISDIR') {
    return invalid(`The ${what} file ${file} is a directory, not a PEM file`, initHint(origin), error, 'unreadable');
  }
  return new FarolError('CERT_MISSING', `The ${what} file ${file} does not exist`, { hint: initHint(origin), cause: error, details: { reason: 'unreadable' } });
}

async function readPemFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw readError(error, fileOrigin(file, what), what);
  }
}

function readPemFileSync(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw readError(error, fileOrigin(file, what), what);
  }
}

/** Every certificate in a PEM text, in order (a certificate file may carry its chain, a CA file a bundle). */
function parseCertificates(pem: string, origin: Origin): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw invalid(`${origin.name} contains no PEM certificate`, `expected text starting with -----BEGIN CERTIFICATE-----; ${initHint(origin)}`, undefined, 'unreadable');
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      const which = blocks.length > 1 ? ` (certificate ${index + 1} of ${blocks.length})` : '';
      throw invalid(`${origin.name} holds a certificate that cannot be parsed${which}`, `replace it; ${initHint(origin)}`, error, 'unreadable');
    }
  });
}

function validityProblem(certificate: X509Certificate, now: Date): string | undefined {
  const validFrom = new Date(certificate.validFrom);
  const validTo = new Date(certificate.validTo);
  if (now < validFrom) return `is not valid until ${validFrom.toISOString()}`;
  if (now > validTo) return `expired on ${validTo.toISOString()}`;
  return undefined;
}

function parsePrivateKey(pem: string, origin: Origin): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE') {
      throw invalid(`The private key in ${origin.where} is encrypted`, 'give Farol an unencrypted PKCS#8 key (e.g. `openssl pkey -in key.pem -out plain-key.pem`) and keep it mode 0600', error);
    }
    const name = origin.file === undefined ? origin.name : `The file ${origin.file}`;
    throw invalid(`${name} does not hold a PEM private key`, `expected -----BEGIN PRIVATE KEY----- (or an RSA/EC private key); ${initHint(origin)}`, error, 'unreadable');
  }
}

function issuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  return child.checkIssued(issuer) && child.verify(issuer.publicKey);
}

/** Whether `leaf` chains to one of `trusted`, through the intermediates that came with it. */
function chainsTo(leaf: X509Certificate, intermediates: X509Certificate[], trusted: X509Certificate[]): boolean {
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth += 1) {
    if (trusted.some((ca) => issuedBy(current, ca))) return true;
    const next = intermediates.find((candidate) => candidate !== current && issuedBy(current, candidate));
    if (!next) return false;
    current = next;
  }
  return false;
}

/** Checks a CA bundle's text: every block parses, and at least one certificate is valid now. */
export function checkCaPem(pem: string, origin: Origin = optionOrigin('ca'), now: Date = new Date()): LoadedCa {
  const certificates = parseCertificates(pem, origin);
  const problems = certificates.map((certificate) => validityProblem(certificate, now));
  if (problems.every((problem) => problem !== undefined)) {
    const which = certificates.length > 1 ? 'Every certificate in' : 'The certificate in';
    const where = origin.file === undefined ? origin.where : `the CA file ${origin.file}`;
    const hint = origin.file === undefined ? 'check the system clock, or pass a CA that is valid now' : `check the system clock; an expired CA cannot be renewed in place: \`farol certs init --dir ${dirname(origin.file)} --replace-ca\` makes a new CA and new certificates, and every client and service then needs the new ca.pem`;
    throw invalid(`${which} ${where} ${problems.length > 1 ? 'is expired or not yet valid' : problems[0]}`, hint, undefined, 'not_valid_now');
  }
  return { pem, certificates };
}

/**
 * Checks a key pair's text: the certificate parses and is valid now, the key belongs to it, and,
 * given a CA, the leaf chains to it (through intermediates that follow it in the certificate text).
 */
export function checkKeyPairPem(
  certPem: string,
  keyPem: string,
  origins: { cert: Origin; key: Origin } = { cert: optionOrigin('certPem'), key: optionOrigin('keyPem') },
  opts: { ca?: LoadedCa; now?: Date } = {},
): LoadedKeyPair {
  const [leaf, ...intermediates] = parseCertificates(certPem, origins.cert);
  const certificate = leaf!;
  const privateKey = parsePrivateKey(keyPem, origins.key);
  if (!certificate.checkPrivateKey(privateKey)) {
    throw invalid(
      `The private key in ${origins.key.where} does not match the certificate in ${origins.cert.where}`,
      'use the key that was created together with this certificate',
      undefined,
      'key_mismatch',
    );
  }
  const problem = validityProblem(certificate, opts.now ?? new Date());
  if (problem) throw invalid(`The certificate in ${origins.cert.where} ${problem}`, renewHint(origins.cert), undefined, 'not_valid_now');
  if (opts.ca && !chainsTo(certificate, intermediates, opts.ca.certificates)) {
    throw invalid(
      `The certificate in ${origins.cert.where} (issuer ${certificate.issuer.replaceAll('\n', ', ')}) was not issued by a CA in the trusted bundle`,
      'issue it from the CA the service is configured with (farol certs issue), or add its CA to the bundle first',
      undefined,
      'untrusted_issuer',
    );
  }
  return { certPem, keyPem, certificate };
}

/** Reads and checks a CA source (a file is read now; see TlsProvider for reading it again on change). */
export async function loadCaSource(source: CaSource, now: Date = new Date()): Promise<LoadedCa> {
  if ('file' in source) return checkCaPem(await readPemFile(source.file, 'CA certificate'), fileOrigin(source.file, 'CA certificate'), now);
  return checkCaPem(joinPem(source.pem), optionOrigin('ca.pem'), now);
}

/** As loadCaSource, reading a file synchronously: for options checked by a synchronous constructor. */
export function loadCaSourceSync(source: CaSource, now: Date = new Date()): LoadedCa {
  if ('file' in source) return checkCaPem(readPemFileSync(source.file, 'CA certificate'), fileOrigin(source.file, 'CA certificate'), now);
  return checkCaPem(joinPem(source.pem), optionOrigin('ca.pem'), now);
}

/** Reads and checks a key pair source; with `ca`, the leaf must chain to it. */
export async function loadKeyPairSource(source: KeyPairSource, opts: { ca?: LoadedCa; now?: Date } = {}): Promise<LoadedKeyPair> {
  if ('certFile' in source) {
    const [certPem, keyPem] = await Promise.all([readPemFile(source.certFile, 'certificate'), readPemFile(source.keyFile, 'private key')]);
    return checkKeyPairPem(certPem, keyPem, { cert: fileOrigin(source.certFile, 'certificate'), key: fileOrigin(source.keyFile, 'private key') }, opts);
  }
  return checkKeyPairPem(source.certPem, source.keyPem, undefined, opts);
}

/** As loadKeyPairSource, reading files synchronously: for options checked by a synchronous constructor. */
export function loadKeyPairSourceSync(source: KeyPairSource, opts: { ca?: LoadedCa; now?: Date } = {}): LoadedKeyPair {
  if ('certFile' in source) {
    const certPem = readPemFileSync(source.certFile, 'certificate');
    const keyPem = readPemFileSync(source.keyFile, 'private key');
    return checkKeyPairPem(certPem, keyPem, { cert: fileOrigin(source.certFile, 'certificate'), key: fileOrigin(source.keyFile, 'private key') }, opts);
  }
  return checkKeyPairPem(source.certPem, source.keyPem, undefined, opts);
}

function joinPem(pem: string | string[]): string {
  return typeof pem === 'string' ? pem : pem.join('\n');
}

/**
 * Reads a server's certificate, key and (optionally) CA bundle, and checks them before a server
 * starts: the certificate parses, is valid now, and the key belongs to it. Certificates made by
 * OpenSSL (RSA or EC, self-signed or CA-issued) are accepted as well as Farol's own.
 */
export async function loadServerTls(opts: ServerTlsFiles): Promise<TlsMaterial> {
  const pair = await loadKeyPairSource({ certFile: opts.certFile, keyFile: opts.keyFile });
  const ca = opts.caFile === undefined ? undefined : await loadCaBundle(opts.caFile);
  return {
    cert: pair.certPem,
    key: pair.keyPem,
    certFile: opts.certFile,
    keyFile: opts.keyFile,
    ...(ca === undefined ? {} : { ca, caFile: opts.caFile }),
  };
}

/**
 * Reads a PEM bundle of trusted CA certificates. Every block must parse, and at least one
 * certificate must be valid now (a bundle of only expired CAs can verify nothing).
 */
export async function loadCaBundle(caFile: string): Promise<string> {
  return (await loadCaSource({ file: caFile })).pem;
}
