import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { FarolError, systemErrorCode } from '../errors.js';
import { loadCertificateAuthority } from './ca.js';
import { CERT_FILE_NAMES, clientCertFileNames, leafFileNames } from './file-names.js';
import { CERT_FILE_MODE, KEY_FILE_MODE, existingPaths, writeFileAtomic } from './files.js';
import { issueLeafCertificate } from './issue.js';
import { clientSubjectAltNames, serverSubjectAltNames } from './subject-alt-names.js';

export interface IssueLeafOptions {
  /** The directory holding the CA: ca.pem and ca-key.pem, as `farol certs init` wrote them. */
  caDir: string;
  /** Where the certificate and key go (default: caDir). Created if missing. */
  outDir?: string;
  /**
   * Base name of the files: `<name>.pem` and `<name>-key.pem`. Default: cert.pem and key.pem for a
   * server certificate, client-<client>.pem and client-<client>-key.pem for a client certificate.
   */
  name?: string;
  /** Issue a client certificate with this name (identity spiffe://farol.local/client/<name>) instead of a server certificate. */
  client?: string;
  /** Server certificate: adds <service>.service.consul for each (besides localhost, 127.0.0.1 and ::1). */
  services?: string[];
  /** Server certificate: more DNS names or IP addresses (e.g. a container's host name). */
  hosts?: string[];
  /** Default 365; the leaf never outlives the CA. */
  validityDays?: number;
  /** Replace an existing certificate and key at the target (never the CA). */
  force?: boolean;
}

export interface IssueLeafResult {
  certFile: string;
  keyFile: string;
  caFile: string;
  usage: 'server' | 'client';
  commonName: string;
  /** An existing certificate or key was replaced (force). */
  replaced: boolean;
  notAfter: Date;
  /** The requested lifetime went past the CA's: the leaf ends when the CA does. */
  cutToCaExpiry: boolean;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function serverNames(services: string[], hosts: string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const defaults = serverSubjectAltNames(services);
  return {
    dnsNames: unique([...defaults.dnsNames, ...hosts.filter((host) => isIP(host) === 0)]),
    ipAddresses: unique([...defaults.ipAddresses, ...hosts.filter((host) => isIP(host) !== 0)]),
  };
}

function unwritable(dir: string, cause: unknown): FarolError {
  return new FarolError('CONFIG_INVALID', `Cannot write certificates to ${dir} (${systemErrorCode(cause) ?? String(cause)})`, {
    hint: 'choose a directory you can write to with --out',
    cause,
  });
}

/**
 * Issues one leaf certificate from the CA in `caDir` and writes it with its new key (0600), each
 * file atomically, the key first: a server certificate for localhost, the loopback addresses,
 * `<service>.service.consul` and `hosts`, or a client certificate. The CA is only read.
 */
export async function issueLeaf(opts: IssueLeafOptions): Promise<IssueLeafResult> {
  const services = unique(opts.services ?? []);
  const hosts = unique(opts.hosts ?? []);
  if (opts.client !== undefined && (services.length > 0 || hosts.length > 0)) {
    throw new FarolError('CONFIG_INVALID', 'A certificate is either for a server (--host, --service) or for a client (--client), not both', {
      hint: 'run `farol certs issue` once for each',
    });
  }
  const usage = opts.client === undefined ? 'server' : 'client';
  const names = opts.client === undefined ? serverNames(services, hosts) : clientSubjectAltNames(opts.client);
  const fileNames =
    opts.name !== undefined ? leafFileNames(opts.name) : opts.client === undefined ? leafFileNames('cert') : clientCertFileNames(opts.client);
  const commonName = opts.client ?? services[0] ?? hosts.find((host) => isIP(host) === 0) ?? 'localhost';

  const outDir = opts.outDir ?? opts.caDir;
  const certFile = join(outDir, fileNames.cert);
  const keyFile = join(outDir, fileNames.key);
  const caFile = join(opts.caDir, CERT_FILE_NAMES.ca);
  const caFiles = [caFile, join(opts.caDir, CERT_FILE_NAMES.caKey)].map((file) => resolve(file));
  if ([certFile, keyFile].some((file) => caFiles.includes(resolve(file)))) {
    throw new FarolError('CONFIG_INVALID', `Refusing to write a leaf certificate over the CA's files in ${opts.caDir}`, {
      hint: 'choose another --name or --out; a new CA is made only by `farol certs init --replace-ca`',
    });
  }

  const ca = await loadCertificateAuthority(opts.caDir);
  const existing = await existingPaths([certFile, keyFile]);
  if (existing.length > 0 && opts.force !== true) {
    throw new FarolError('CERT_EXISTS', `Refusing to overwrite ${existing.join(' and ')}`, {
      hint: `pass --force to replace this ${usage} certificate (the CA is kept), or --out/--name to write elsewhere; to renew every certificate near expiry: farol certs renew --dir ${opts.caDir}`,
      details: { existing },
    });
  }
  const leaf = await issueLeafCertificate(ca, {
    commonName,
    usage,
    ...names,
    ...(opts.validityDays === undefined ? {} : { validityDays: opts.validityDays }),
  });
  try {
    await mkdir(outDir, { recursive: true });
    // The key first: a watcher that reloads on the certificate's change then finds its key in place.
    await writeFileAtomic(keyFile, leaf.keyPem, KEY_FILE_MODE);
    await writeFileAtomic(certFile, leaf.certPem, CERT_FILE_MODE);
  } catch (error) {
    throw unwritable(outDir, error);
  }
  return { certFile, keyFile, caFile: ca.certFile, usage, commonName, replaced: existing.length > 0, notAfter: leaf.notAfter, cutToCaExpiry: leaf.cutToCaExpiry };
}
