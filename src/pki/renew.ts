import { X509Certificate as NodeX509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FarolError, systemErrorCode } from '../errors.js';
import { loadCertificateAuthority } from './ca.js';
import { loadX509, type X509 } from './crypto-provider.js';
import { pemCertificates } from './describe.js';
import { daysLeft } from './expiry.js';
import { isKeyFileName, keyFileNameFor } from './file-names.js';
import { CERT_FILE_MODE, KEY_FILE_MODE, writeFileAtomic } from './files.js';
import { signLeaf } from './issue.js';
import { CLOCK_SKEW_MS, validityWindow } from './validity.js';

const DAY_MS = 86_400_000;

/** Leaves expiring within this window are renewed unless told otherwise: 30 days. */
export const DEFAULT_RENEW_WITHIN_MS = 30 * DAY_MS;

export interface RenewLeavesOptions {
  /** The directory holding the CA (ca.pem, ca-key.pem); its leaves are renewed. */
  caDir: string;
  /** More directories whose leaves signed by that CA are renewed (e.g. one per instance). */
  leafDirs?: string[];
  /** Renew leaves whose notAfter is less than this far away (expired ones included). Default 30 days. */
  withinMs?: number;
  /** Lifetime of a renewed leaf. Default: the lifetime the old one had. Never past the CA's expiry. */
  validityDays?: number;
  /** Report what would be renewed, and write nothing. */
  dryRun?: boolean;
  now?: Date;
}

export interface RenewedLeaf {
  certFile: string;
  keyFile: string;
  subject: string;
  /** When the old certificate expired, or expires. */
  previousNotAfter: Date;
  /** When the new one expires (undefined on a dry run). */
  notAfter: Date | undefined;
  serialNumber: string | undefined;
  /** The new leaf ends when the CA does, earlier than its lifetime asked for. */
  cutToCaExpiry: boolean;
}

export interface LeftLeaf {
  certFile: string;
  subject: string | undefined;
  /** Why it was left alone, as a phrase: "expires in 200 days (…)", "not issued by this CA"… */
  reason: string;
  /** True when it is not renewed although it needs it (e.g. its key file is missing). */
  needsAttention: boolean;
}

export interface RenewLeavesResult {
  caFile: string;
  caNotAfter: Date;
  /** The CA itself expires within the window: renewing leaves cannot carry them past it. */
  caExpiresWithinWindow: boolean;
  dryRun: boolean;
  renewed: RenewedLeaf[];
  left: LeftLeaf[];
}

interface Candidate {
  certFile: string;
  keyFile: string | undefined;
  /** The leaf first, then any chain that followed it in the file (kept after the new leaf). */
  blocks: string[];
}

async function candidates(dir: string, caFiles: string[]): Promise<Candidate[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (error) {
    throw new FarolError('CERT_MISSING', `Cannot list the certificates in ${dir} (${systemErrorCode(error) ?? String(error)})`, {
      hint: 'check the directory given with --dir or --leaf-dir',
      cause: error,
    });
  }
  const found: Candidate[] = [];
  for (const name of names) {
    if (name.startsWith('.') || !(name.endsWith('.pem') || name.endsWith('.crt')) || isKeyFileName(name)) continue;
    const certFile = join(dir, name);
    if (caFiles.includes(resolve(certFile))) continue;
    let text: string;
    try {
      text = await readFile(certFile, 'utf8');
    } catch {
      continue; // a directory or an unreadable file named *.pem: not a certificate of ours
    }
    const blocks = pemCertificates(text);
    if (blocks.length === 0) continue;
    const keyName = keyFileNameFor(name);
    found.push({ certFile, keyFile: keyName === undefined ? undefined : join(dir, keyName), blocks });
  }
  return found;
}

async function keyProblem(keyFile: string | undefined, certificate: NodeX509Certificate): Promise<string | undefined> {
  if (keyFile === undefined) return 'no key file name goes with it';
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch (error) {
    return systemErrorCode(error) === 'ENOENT' ? `its key file ${keyFile} does not exist` : `its key file ${keyFile} cannot be read`;
  }
  try {
    return certificate.checkPrivateKey(createPrivateKey(pem)) ? undefined : `its key file ${keyFile} holds another key`;
  } catch {
    return `its key file ${keyFile} holds no private key`;
  }
}

function inDays(notAfter: Date, now: Date): string {
  const days = daysLeft(notAfter, now);
  if (days < 0) return `expired ${-days} day${days === -1 ? '' : 's'} ago (${notAfter.toISOString()})`;
  return `expires in ${days} day${days === 1 ? '' : 's'} (${notAfter.toISOString()})`;
}

/**
 * Re-issues, with the CA in `caDir`, every leaf certificate in `caDir` (and `leafDirs`) that this CA
 * signed and that expires within the window: same subject, subject alternative names and extended
 * key usage, a new key pair and serial. The CA is never touched. A leaf is found as `<base>.pem`
 * with its key `<base>-key.pem` (cert.pem with key.pem), the names `farol certs init` and
 * `farol certs issue` write.
 */
export async function renewLeaves(opts: RenewLeavesOptions): Promise<RenewLeavesResult> {
  const now = opts.now ?? new Date();
  const withinMs = opts.withinMs ?? DEFAULT_RENEW_WITHIN_MS;
  if (!Number.isFinite(withinMs) || withinMs < 0) {
    throw new FarolError('CONFIG_INVALID', `The renewal window must be a duration of 0 or more, got ${withinMs} ms`, { hint: 'pass --within like 30d or 720h' });
  }
  const ca = await loadCertificateAuthority(opts.caDir, now);
  const caCertificate = new NodeX509Certificate(ca.certPem);
  const caFiles = [ca.certFile, ca.keyFile].map((file) => resolve(file));
  const dirs = [...new Map([opts.caDir, ...(opts.leafDirs ?? [])].map((dir) => [resolve(dir), dir])).values()];

  const result: RenewLeavesResult = {
    caFile: ca.certFile,
    caNotAfter: ca.notAfter,
    caExpiresWithinWindow: ca.notAfter.getTime() - now.getTime() < withinMs,
    dryRun: opts.dryRun === true,
    renewed: [],
    left: [],
  };
  for (const dir of dirs) {
    for (const candidate of await candidates(dir, caFiles)) {
      const [leafPem, ...chain] = candidate.blocks as [string, ...string[]];
      let leaf: X509.X509Certificate;
      let nodeLeaf: NodeX509Certificate;
      try {
        leaf = new (loadX509().X509Certificate)(leafPem);
        nodeLeaf = new NodeX509Certificate(leafPem);
      } catch {
        result.left.push({ certFile: candidate.certFile, subject: undefined, reason: 'cannot be parsed', needsAttention: true });
        continue;
      }
      const left = (reason: string, needsAttention = false): void => {
        result.left.push({ certFile: candidate.certFile, subject: leaf.subject, reason, needsAttention });
      };
      if (nodeLeaf.ca) {
        left('is a CA certificate (renew never replaces a CA)');
        continue;
      }
      if (!nodeLeaf.checkIssued(caCertificate) || !nodeLeaf.verify(caCertificate.publicKey)) {
        left(`was not issued by the CA in ${ca.certFile}`);
        continue;
      }
      if (leaf.notAfter.getTime() - now.getTime() >= withinMs) {
        left(inDays(leaf.notAfter, now));
        continue;
      }
      const problem = await keyProblem(candidate.keyFile, nodeLeaf);
      if (problem !== undefined || candidate.keyFile === undefined) {
        left(`${inDays(leaf.notAfter, now)} but ${problem ?? 'has no key file'}: issue a new one with farol certs issue`, true);
        continue;
      }
      const renewed: RenewedLeaf = {
        certFile: candidate.certFile,
        keyFile: candidate.keyFile,
        subject: leaf.subject,
        previousNotAfter: leaf.notAfter,
        notAfter: undefined,
        serialNumber: undefined,
        cutToCaExpiry: false,
      };
      if (!opts.dryRun) {
        const lifetimeDays = Math.max(1, Math.round((leaf.notAfter.getTime() - leaf.notBefore.getTime() - CLOCK_SKEW_MS) / DAY_MS));
        const extendedKeyUsage = leaf.getExtension(loadX509().ExtendedKeyUsageExtension);
        const signed = await signLeaf(ca, {
          subject: leaf.subjectName,
          extendedKeyUsages: extendedKeyUsage?.usages.map(String),
          subjectAltNames: leaf.getExtension(loadX509().SubjectAlternativeNameExtension) ?? undefined,
          validity: validityWindow({ validityDays: opts.validityDays ?? lifetimeDays }, lifetimeDays, now),
        });
        try {
          await writeFileAtomic(candidate.keyFile, signed.keyPem, KEY_FILE_MODE);
          await writeFileAtomic(candidate.certFile, [signed.certPem, ...chain].join('\n'), CERT_FILE_MODE);
        } catch (error) {
          throw new FarolError('CONFIG_INVALID', `Cannot write the renewed certificate ${candidate.certFile} (${systemErrorCode(error) ?? String(error)})`, {
            hint: 'run farol as the user that owns the certificate files',
            cause: error,
          });
        }
        renewed.notAfter = signed.notAfter;
        renewed.serialNumber = new NodeX509Certificate(signed.certPem).serialNumber.toUpperCase();
        renewed.cutToCaExpiry = signed.cutToCaExpiry;
      }
      result.renewed.push(renewed);
    }
  }
  return result;
}

