import { FarolError } from '../errors.js';

/** The files `farol certs init` writes into its directory. */
export const CERT_FILE_NAMES = { ca: 'ca.pem', caKey: 'ca-key.pem', cert: 'cert.pem', key: 'key.pem' } as const;

const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A client name becomes part of a file name and the certificate's common name, so it is kept to a safe alphabet. */
export function assertValidClientName(name: string): void {
  if (!CLIENT_NAME.test(name) || name.includes('..')) {
    throw new FarolError('CONFIG_INVALID', `Client name "${name}" cannot be used in a file name`, {
      hint: 'use letters, digits, ".", "_" and "-" (at most 64 characters), starting with a letter or digit',
    });
  }
}

export function clientCertFileNames(name: string): { cert: string; key: string } {
  assertValidClientName(name);
  return { cert: `client-${name}.pem`, key: `client-${name}-key.pem` };
}
