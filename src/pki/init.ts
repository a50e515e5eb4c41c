import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, join } from 'node:path';
import { FarolError, systemErrorCode } from '../errors.js';
import { DEFAULT_CA_VALIDITY_DAYS, createCertificateAuthority, loadCertificateAuthority } from './ca.js';
import { CERT_FILE_NAMES, clientCertFileNames } from './file-names.js';
import { CERT_FILE_MODE, KEY_FILE_MODE, existingPaths, writeFileAtomic } from './files.js';
import { DEFAULT_LEAF_VALIDITY_DAYS, issueCertificate } from './issue.js';
import { clientSubjectAltNames, serverSubjectAltNames } from './subject-alt-names.js';
import type { PemPair } from './types.js';

export interface InitCertificatesOptions {
  dir: string;
  services?: string[];
  /** More names for the server certificate: DNS names or IP addresses (e.g. container host names). */
  hosts?: string[];
  clients?: string[];
  /** Replace the server and client certificates named, if they exist (with the existing CA, if there is one). */
  force?: boolean;
  /**
   * Make a new CA even if one exists, and new certificates with it. Every certificate the old CA
   * issued stops being trusted by whoever trusts only the new ca.pem.
   */
  replaceCa?: boolean;
  /** Validity of the server and client certificates (default 365). The CA lives at least 10 years. */
  validityDays?: number;
}

export interface InitCertificatesResult {
  dir: string;
  /** Every file written, in the order written. */
  written: string[];
  /** A new CA was made (nothing was there, or replaceCa). */
  createdCa: boolean;
  caFile: string;
  certFile: string;
  keyFile: string;
  clients: { name: string; certFile: string; keyFile: string }[];
}

/**
 * What an init run does, given which target files already exist:
 * - `replaceCa`, or no CA file and no target file exists (or `force`): a new CA, a server certificate, the clients.
 * - the CA (ca.pem + ca-key.pem) exists: keep it and issue with it the server certificate (when a
 *   service or host is named, or no client is) and the clients named; refuse if one of those exists
 *   already, unless `force`.
 * - half a CA: refuse, whatever `force` says (only `replaceCa` makes a new CA).
 */
export type InitPlan =
  | { action: 'create-all' }
  | { action: 'use-ca'; server: boolean }
  | { action: 'refuse'; reason: 'leaves-exist' | 'ca-incomplete' | 'leaves-without-ca'; existing: string[] };

export function planInit(input: {
  existing: string[];
  force: boolean;
  replaceCa: boolean;
  /** A service or host is named, or no client is: the server certificate is wanted. */
  serverRequested: boolean;
  caFiles: string[];
  serverFiles: string[];
  clientFiles: string[];
}): InitPlan {
  if (input.replaceCa) return { action: 'create-all' };
  const existingOf = (files: string[]) => input.existing.filter((file) => files.includes(file));
  const caExisting = existingOf(input.caFiles);
  if (caExisting.length === input.caFiles.length) {
    const clashing = existingOf([...(input.serverRequested ? input.serverFiles : []), ...input.clientFiles]);
    if (clashing.length > 0 && !input.force) return { action: 'refuse', reason: 'leaves-exist', existing: clashing };
    return { action: 'use-ca', server: input.serverRequested };
  }
  if (caExisting.length > 0) return { action: 'refuse', reason: 'ca-incomplete', existing: caExisting };
  const leaves = existingOf([...input.serverFiles, ...input.clientFiles]);
  if (leaves.length > 0 && !input.force) return { action: 'refuse', reason: 'leaves-without-ca', existing: leaves };
  return { action: 'create-all' };
}

function refusal(dir: string, plan: { reason: 'leaves-exist' | 'ca-incomplete' | 'leaves-without-ca'; existing: string[] }): FarolError {
  const names = plan.existing.map((file) => basename(file)).join(', ');
  const newCa = `--replace-ca makes a new CA instead (every client and service then needs the new ${join(dir, CERT_FILE_NAMES.ca)})`;
  const hints = {
    'leaves-exist': `the CA in ${dir} is kept either way: pass --force to re-issue these with it, or use \`farol certs issue --dir ${dir} --force\` for one certificate and \`farol certs renew --dir ${dir}\` for those near expiry; ${newCa}`,
    'ca-incomplete': `restore the missing half of the CA (${CERT_FILE_NAMES.ca} and ${CERT_FILE_NAMES.caKey} go together), or choose another --dir; ${newCa}`,
    'leaves-without-ca': `there is no CA in ${dir}: pass --force to replace them with a new CA and certificates, or choose another --dir`,
  } as const;
  return new FarolError('CERT_EXISTS', `Refusing to overwrite existing files in ${dir}: ${names}`, {
    hint: hints[plan.reason],
    details: { existing: plan.existing, reason: plan.reason },
  });
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
  const hosts = unique(opts.hosts ?? []);
  const serverNames = withExtraHosts(serverSubjectAltNames(services), hosts);
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
  const plan = planInit({
    existing,
    force: opts.force ?? false,
    replaceCa: opts.replaceCa ?? false,
    serverRequested: services.length > 0 || hosts.length > 0 || clients.length === 0,
    caFiles: [caFile, caKeyFile],
    serverFiles: [certFile, keyFile],
    clientFiles,
  });
  if (plan.action === 'refuse') throw refusal(opts.dir, plan);

  const validityDays = opts.validityDays ?? DEFAULT_LEAF_VALIDITY_DAYS;
  // Everything is generated before the first write, so a failure leaves the directory as it was.
  const toWrite: { pair: PemPair; certPath: string; keyPath: string }[] = [];
  let ca: PemPair;
  if (plan.action === 'use-ca') {
    ca = await loadCertificateAuthority(opts.dir);
  } else {
    ca = await createCertificateAuthority({ validityDays: Math.max(DEFAULT_CA_VALIDITY_DAYS, validityDays) });
    toWrite.push({ pair: ca, certPath: caFile, keyPath: caKeyFile });
  }
  if (plan.action === 'create-all' || plan.server) {
    const server = await issueCertificate(ca, { commonName: services[0] ?? 'localhost', usage: 'server', ...serverNames, validityDays });
    toWrite.push({ pair: server, certPath: certFile, keyPath: keyFile });
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
  return { dir: opts.dir, written, createdCa: plan.action === 'create-all', caFile, certFile, keyFile, clients };
}
