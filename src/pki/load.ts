import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FarolError } from '../errors.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  ca?: string;
  certFile: string;
  keyFile: string;
  caFile?: string;
}

export interface ServerTlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function initHint(file: string): string {
  return `run \`farol certs init --dir ${dirname(file)}\` to create certificates there, or pass the path of existing files`;
}

async function readPemFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new FarolError('CERT_MISSING', `The ${what} file ${file} cannot be read (permission denied)`, {
        hint: `let the user running farol read it (keys should be mode 0600 and owned by that user), or ${initHint(file)}`,
        cause: error,
      });
    }
    if (code === 'EISDIR') {
      throw new FarolError('CERT_INVALID', `The ${what} file ${file} is a directory, not a PEM file`, { hint: initHint(file), cause: error });
    }
    throw new FarolError('CERT_MISSING', `The ${what} file ${file} does not exist`, { hint: initHint(file), cause: error });
  }
}

function invalid(message: string, hint: string, cause?: unknown): FarolError {
  return new FarolError('CERT_INVALID', message, { hint, cause });
}

/** Every certificate in a PEM text, in order (a certificate file may carry its chain, a CA file a bundle). */
function parseCertificates(pem: string, file: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw invalid(`The ${what} file ${file} contains no PEM certificate`, `expected a file starting with -----BEGIN CERTIFICATE-----; ${initHint(file)}`);
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      const which = blocks.length > 1 ? ` (certificate ${index + 1} of ${blocks.length})` : '';
      throw invalid(`The ${what} file ${file} holds a certificate that cannot be parsed${which}`, `replace the file; ${initHint(file)}`, error);
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

function parsePrivateKey(pem: string, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE') {
      throw invalid(`The private key in ${file} is encrypted`, 'give Farol an unencrypted PKCS#8 key (e.g. `openssl pkey -in key.pem -out plain-key.pem`) and keep it mode 0600', error);
    }
    throw invalid(`The file ${file} does not hold a PEM private key`, `expected -----BEGIN PRIVATE KEY----- (or an RSA/EC private key); ${initHint(file)}`, error);
  }
}

/**
 * Reads a server's certificate, key and (optionally) CA bundle, and checks them before a server
 * starts: the certificate parses, is valid now, and the key belongs to it. Certificates made by
 * OpenSSL (RSA or EC, self-signed or CA-issued) are accepted as well as Farol's own.
 */
export async function loadServerTls(opts: ServerTlsFiles): Promise<TlsMaterial> {
  const now = new Date();
  const cert = await readPemFile(opts.certFile, 'certificate');
  const key = await readPemFile(opts.keyFile, 'private key');
  const ca = opts.caFile === undefined ? undefined : await loadCaBundle(opts.caFile);

  const [leaf] = parseCertificates(cert, opts.certFile, 'certificate');
  if (!leaf) throw invalid(`The certificate file ${opts.certFile} contains no PEM certificate`, initHint(opts.certFile));
  const problem = validityProblem(leaf, now);
  if (problem) {
    throw invalid(`The certificate in ${opts.certFile} ${problem}`, `check the system clock, or issue a new one: farol certs init --dir ${dirname(opts.certFile)} --force`);
  }
  const privateKey = parsePrivateKey(key, opts.keyFile);
  if (!leaf.checkPrivateKey(privateKey)) {
    throw invalid(`The private key in ${opts.keyFile} does not match the certificate in ${opts.certFile}`, 'use the key file that was created together with this certificate');
  }
  return {
    cert,
    key,
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
  const pem = await readPemFile(caFile, 'CA certificate');
  const certificates = parseCertificates(pem, caFile, 'CA certificate');
  const now = new Date();
  const problems = certificates.map((certificate) => validityProblem(certificate, now));
  if (problems.every((problem) => problem !== undefined)) {
    const which = certificates.length > 1 ? 'Every certificate in' : 'The certificate in';
    throw invalid(`${which} the CA file ${caFile} ${problems.length > 1 ? 'is expired or not yet valid' : problems[0]}`, `check the system clock, or create a new CA: farol certs init --dir ${dirname(caFile)} --force`);
  }
  return pem;
}
