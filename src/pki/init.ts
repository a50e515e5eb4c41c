import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, join } from 'node:path';
import { FarolError, systemErrorCode } from '../errors.js';
import { DEFAULT_CA_VALIDITY_DAYS, createCertificateAuthority } from './ca.js';
import { CERT_FILE_NAMES, clientCertFileNames } from './file-names.js';
import { CERT_FILE_MODE, KEY_FILE_MODE, existingPaths, writeFileAtomic } from './files.js';
import { DEFAULT_LEAF_VALIDITY_DAYS, issueCertificate } from './issue.js';
import { loadServerTls } from './load.js';
import { clientSubjectAltNames, serverSubjectAltNames } from './subject-alt-names.js';
import type { PemPair } from './types.js';

export interface InitCertificatesOptions {
  dir: string;
  services?: string[];
  /** More names for the server certificate: DNS names or IP addresses (e.g. container host names). */
  hosts?: string[];
  clients?: string[];
  force?: boolean;
  /** Validity of the server and client certificates (default 365). The CA lives at least 10 years. */
  validityDays?: number;
}

export interface InitCertificatesResult {
  dir: string;
  /** Every file written, in the order written. */
  written: string[];
  caFile: string;
  certFile: string;
  keyFile: string;
  clients: { name: string; certFile: string; keyFile: string }[];
}

/**
 * What an init run does, given which target files already exist:
 * - `force`, or nothing exists yet: create a new CA, a server certificate, and the client certificates.
 * - the CA (ca.pem + ca-key.pem) exists, no service is named, at least one client is named, and none of
 *   those clients' files exist: keep the CA and only issue the new client certificates with it.
 * - anything else: refuse, naming the files that would be overwritten.
 */
export type InitPlan = { action: 'create-all' } | { action: 'add-clients' } | { action: 'refuse'; existing: string[] };

export function planInit(input: {
  existing: string[];
  force: boolean;
  servicesNamed: boolean;
  caFiles: string[];
  clientFiles: string[];
}): InitPlan {
  if (input.force || input.existing.length === 0) return { action: 'create-all' };
  const caExists = input.caFiles.every((file) => input.existing.includes(file));
  const clashingClientFiles = input.existing.filter((file) => input.clientFiles.includes(file));
  if (caExists && !input.servicesNamed && input.clientFiles.length > 0 && clashingClientFiles.length === 0) {
    return { action: 'add-clients' };
  }
  return { action: 'refuse', existing: input.existing };
}

function unwritable(dir: string, cause: unknown): FarolError {
  return new FarolError('CONFIG_INVALID', `Cannot write certificates to ${dir} (${systemErrorCode(cause) ?? String(cause)})`, {
    hint: 'choose a directory you can write to with --dir',
    cause,
  });
}

function withExtraHosts(names: { dnsNames: string[]; ipAddresses: string[] }, hosts: string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const ipAddresses = [...names.ipAddresses, ...hosts.filter((host) => isIP(host) !== 0)];
  const dnsNames = [...names.dnsNames, ...hosts.filter((host) => isIP(host) === 0)];
  return { dnsNames: unique(dnsNames), ipAddresses: unique(ipAddresses) };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * Creates a development PKI in `dir`: a CA, a server certificate for localhost, the loopback
 * addresses and `<service>.service.consul`, and optional client certificates (TLS client
 * authentication only, identified by `spiffe://farol.local/client/<name>`). Keys are written 0600.
 */
export async function initCertificates(opts: InitCertificatesOptions): Promise<InitCertificatesResult> {
  const services = unique(opts.services ?? []);
  const serverNames = withExtraHosts(serverSubjectAltNames(services), unique(opts.hosts ?? []));
  const clientNames = unique(opts.clients ?? []);
  const clients = clientNames.map((name) => {
    const files = clientCertFileNames(name);
    return { name, certFile: join(opts.dir, files.cert), keyFile: join(opts.dir, files.key) };
  });
  const caFile = join(opts.dir, CERT_FILE_NAMES.ca);
  const caKeyFile = join(opts.dir, CERT_FILE_NAMES.caKey);
  const certFile = join(opts.dir, CERT_FILE_NAMES.cert);
  const keyFile = join(opts.dir, CERT_FILE_NAMES.key);
  const clientFiles = clients.flatMap((client) => [client.certFile, client.keyFile]);

  await mkdir(opts.dir, { recursive: true }).catch((error: unknown) => {
    throw unwritable(opts.dir, error);
  });
  const existing = await existingPaths([caFile, caKeyFile, certFile, keyFile, ...clientFiles]);
  const plan = planInit({ existing, force: opts.force ?? false, servicesNamed: services.length > 0 || (opts.hosts ?? []).length > 0, caFiles: [caFile, caKeyFile], clientFiles });
  if (plan.action === 'refuse') {
    throw new FarolError('CERT_EXISTS', `Refusing to overwrite existing files in ${opts.dir}: ${plan.existing.map((file) => basename(file)).join(', ')}`, {
      hint: 'pass --force to replace them (a new CA: certificates it issued before stop being trusted) or choose another --dir; to add a client to the existing CA, name only --client',
      details: { existing: plan.existing },
    });
  }

  const validityDays = opts.validityDays ?? DEFAULT_LEAF_VALIDITY_DAYS;
  // Everything is generated before the first write, so a failure leaves the directory as it was.
  const toWrite: { pair: PemPair; certPath: string; keyPath: string }[] = [];
  let ca: PemPair;
  if (plan.action === 'add-clients') {
    const loaded = await loadServerTls({ certFile: caFile, keyFile: caKeyFile });
    ca = { certPem: loaded.cert, keyPem: loaded.key };
  } else {
    ca = await createCertificateAuthority({ validityDays: Math.max(DEFAULT_CA_VALIDITY_DAYS, validityDays) });
    const server = await issueCertificate(ca, { commonName: services[0] ?? 'localhost', usage: 'server', ...serverNames, validityDays });
    toWrite.push({ pair: ca, certPath: caFile, keyPath: caKeyFile }, { pair: server, certPath: certFile, keyPath: keyFile });
  }
  for (const client of clients) {
    const pair = await issueCertificate(ca, { commonName: client.name, usage: 'client', ...clientSubjectAltNames(client.name), validityDays });
    toWrite.push({ pair, certPath: client.certFile, keyPath: client.keyFile });
  }

  const written: string[] = [];
  try {
    for (const { pair, certPath, keyPath } of toWrite) {
      await writeFileAtomic(certPath, pair.certPem, CERT_FILE_MODE);
      written.push(certPath);
      await writeFileAtomic(keyPath, pair.keyPem, KEY_FILE_MODE);
      written.push(keyPath);
    }
  } catch (error) {
    throw unwritable(opts.dir, error);
  }
  return { dir: opts.dir, written, caFile, certFile, keyFile, clients };
}
