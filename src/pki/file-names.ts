import { FarolError } from '../errors.js';

/** The files `farol certs init` writes into its directory. */
export const CERT_FILE_NAMES = { ca: 'ca.pem', caKey: 'ca-key.pem', cert: 'cert.pem', key: 'key.pem' } as const;

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name) && !name.includes('..');
}

/** A client name becomes part of a file name and the certificate's common name, so it is kept to a safe alphabet. */
export function assertValidClientName(name: string): void {
  if (!isSafeName(name)) {
    throw new FarolError('CONFIG_INVALID', `Client name "${name}" cannot be used in a file name`, {
      hint: 'use letters, digits, ".", "_" and "-" (at most 64 characters), starting with a letter or digit',
    });
  }
}

/**
 * The certificate and key file names of a leaf with base name `base`: `<base>.pem` and
 * `<base>-key.pem`, except that the server certificate keeps the original project's names
 * (`cert` gives cert.pem and key.pem). The CA's own names are refused.
 */
export function leafFileNames(base: string): { cert: string; key: string } {
  if (!isSafeName(base) || /(\.pem|-key|\.key)$/.test(base)) {
    throw new FarolError('CONFIG_INVALID', `"${base}" cannot be used as a certificate file name`, {
      hint: 'give --name a base name (letters, digits, ".", "_" and "-"; not ending in .pem, -key or .key); it writes <name>.pem and <name>-key.pem',
    });
  }
  if (base === 'cert') return { cert: CERT_FILE_NAMES.cert, key: CERT_FILE_NAMES.key };
  const names = { cert: `${base}.pem`, key: `${base}-key.pem` };
  if ([names.cert, names.key].some((name) => name === CERT_FILE_NAMES.ca || name === CERT_FILE_NAMES.caKey || name === CERT_FILE_NAMES.key)) {
    throw new FarolError('CONFIG_INVALID', `"${base}" would name the CA's files (${CERT_FILE_NAMES.ca}, ${CERT_FILE_NAMES.caKey}) or ${CERT_FILE_NAMES.key}`, {
      hint: 'choose another --name; a leaf never replaces the CA',
    });
  }
  return names;
}

export function clientCertFileNames(name: string): { cert: string; key: string } {
  assertValidClientName(name);
  return leafFileNames(`client-${name}`);
}

/** Whether a file name is one of the key names leafFileNames (or a .crt/.key pair) gives. */
export function isKeyFileName(name: string): boolean {
  return name === CERT_FILE_NAMES.key || name.endsWith('-key.pem') || name.endsWith('.key');
}

/**
 * The key file that goes with a certificate file name, by the rule leafFileNames follows (and
 * `<base>.crt` with `<base>.key`); undefined for a name that is not a certificate's.
 */
export function keyFileNameFor(certName: string): string | undefined {
  if (isKeyFileName(certName) || certName === CERT_FILE_NAMES.ca) return undefined;
  if (certName === CERT_FILE_NAMES.cert) return CERT_FILE_NAMES.key;
  if (certName.endsWith('.pem')) return `${certName.slice(0, -'.pem'.length)}-key.pem`;
  if (certName.endsWith('.crt')) return `${certName.slice(0, -'.crt'.length)}.key`;
  return undefined;
}
