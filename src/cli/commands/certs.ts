import { InvalidArgumentError, type Command } from 'commander';
import { optionWithDescribedDefault } from '../help.js';
import { FarolError } from '../../errors.js';
import {
  describeCertificateFile,
  initCertificates,
  issueLeaf,
  renewLeaves,
  type CertificateDescription,
  type InitCertificatesResult,
  type RenewLeavesResult,
} from '../../pki/index.js';
import { MAX_VALIDITY_DAYS } from '../../pki/validity.js';
import { parseDurationFlag } from '../duration-flag.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { action, reportError, type CliContext } from '../run.js';

const DAY_MS = 86_400_000;

interface CertsInitFlags {
  dir: string;
  service?: string[];
  host?: string[];
  client?: string[];
  days?: number;
  force?: boolean;
  replaceCa?: boolean;
}

interface CertsIssueFlags {
  dir: string;
  host?: string[];
  service?: string[];
  client?: string;
  out?: string;
  name?: string;
  days?: number;
  force?: boolean;
}

interface CertsRenewFlags {
  dir: string;
  leafDir?: string[];
  within: string;
  days?: number;
  dryRun?: boolean;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function oneClient(value: string, previous: string | undefined): string {
  if (previous !== undefined) throw new InvalidArgumentError('one client per certs issue: run it once for each client');
  return value;
}

function validityDays(value: string): number {
  const days = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS) {
    throw new InvalidArgumentError(`expected a whole number of days from 1 to ${MAX_VALIDITY_DAYS}`);
  }
  return days;
}

/** --within: whole days as "30d" (a Farol extension: Go durations have no day unit), or any Go duration ("720h"). */
export function parseRenewWindow(text: string): number {
  const days = /^(\d{1,5})d$/.exec(text);
  if (days) return Number(days[1]) * DAY_MS;
  return parseDurationFlag('within', text, { example: '30d, 7d or 720h', note: 'Nd means N whole days' });
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function nextStep(result: InitCertificatesResult, wroteServerCertificate: boolean): string {
  if (wroteServerCertificate) {
    return `next: serve with certificate ${result.certFile} and key ${result.keyFile}; callers trust ${result.caFile}\n`;
  }
  return `next: each client connects with its client-<name>.pem and client-<name>-key.pem; services verify them with ${result.caFile}\n`;
}

function renewReport(result: RenewLeavesResult, withinText: string): string[] {
  const lines: string[] = [];
  const verb = result.dryRun ? 'would renew' : 'renewed';
  for (const leaf of result.renewed) {
    const until = leaf.notAfter === undefined ? '' : `, now valid until ${day(leaf.notAfter)}, serial ${leaf.serialNumber ?? '?'}`;
    const cut = leaf.cutToCaExpiry ? ' (cut to the CA\'s expiry)' : '';
    lines.push(`${verb} ${leaf.certFile} (${leaf.subject}): was valid until ${day(leaf.previousNotAfter)}${until}${cut}`);
  }
  for (const leaf of result.left) {
    lines.push(`${leaf.needsAttention ? 'NOT renewed' : 'left'} ${leaf.certFile}${leaf.subject === undefined ? '' : ` (${leaf.subject})`}: ${leaf.reason}`);
  }
  if (result.renewed.length === 0 && result.left.every((leaf) => !leaf.needsAttention)) lines.push(`nothing expires within ${withinText}`);
  if (result.caExpiresWithinWindow) {
    lines.push(
      `warning: the CA ${result.caFile} itself expires on ${day(result.caNotAfter)}; certificates it issues end then too. ` +
        'Plan a new CA: farol certs init --replace-ca, then give every client and service the new ca.pem',
    );
  }
  if (result.renewed.length > 0 && !result.dryRun) lines.push('running farol services pick up the new files; others need a restart');
  return lines;
}

const LABEL_WIDTH = 12;

function row(label: string, value: string): string {
  return `  ${label.padEnd(LABEL_WIDTH)} ${value}\n`;
}

function describeText(file: string, index: number, count: number, description: CertificateDescription): string {
  const names = [
    ...description.subjectAltNames.dns.map((name) => `DNS:${name}`),
    ...description.subjectAltNames.ip.map((name) => `IP:${name}`),
    ...description.subjectAltNames.uri.map((name) => `URI:${name}`),
    ...description.subjectAltNames.email.map((name) => `email:${name}`),
  ];
  const usage = [...description.usage, ...description.otherUsages];
  return [
    `${file}${count > 1 ? ` (certificate ${index + 1} of ${count})` : ''}\n`,
    row('subject', description.subject),
    row('names', names.length > 0 ? names.join(', ') : '(none)'),
    row('issuer', `${description.issuer}${description.selfSigned ? ' (self-signed)' : ''}`),
    row('serial', description.serialNumber),
    row('not before', description.notBefore),
    row('not after', description.notAfter),
    row('days left', `${description.daysLeft}${description.expired ? ' (expired)' : ''}`),
    row('key', description.keyType),
    row('usage', usage.length > 0 ? usage.join(', ') : '(none for TLS)'),
    row('CA', description.isCa ? 'yes' : 'no'),
    ...description.warnings.map((warning) => row('warning', warning)),
  ].join('');
}

export function registerCertsCommand(program: Command, ctx: CliContext): void {
  const certs = program.command('certs').description('create, issue, renew and show TLS certificates for services and clients');
  certs
    .command('init')
    .description('create a CA, a server certificate (localhost, 127.0.0.1, ::1, <service>.service.consul) and client certificates; with an existing CA, issue with it')
    .option('--dir <dir>', 'directory to write the PEM files to', 'certs')
    .option('--service <name>', 'add <name>.service.consul to the server certificate (repeatable)', collect)
    .option('--host <name>', 'add a DNS name or IP address to the server certificate, e.g. a container host name (repeatable)', collect)
    .option('--client <name>', 'also issue a client certificate client-<name>.pem, identity spiffe://farol.local/client/<name> (repeatable)', collect)
    .addOption(optionWithDescribedDefault('--days <n>', 'validity of the server and client certificates in days', '365').argParser(validityDays))
    .option('--force', 'replace the server and client certificates that exist; the CA is kept')
    .option('--replace-ca', 'make a new CA even if one exists, and new certificates: every client and service then needs the new ca.pem')
    .action(
      action(ctx, async (flags: CertsInitFlags) => {
        const result = await initCertificates({
          dir: flags.dir,
          services: flags.service,
          hosts: flags.host,
          clients: flags.client,
          force: flags.force ?? false,
          replaceCa: flags.replaceCa ?? false,
          ...(flags.days === undefined ? {} : { validityDays: flags.days }),
        });
        for (const file of result.written) ctx.io.stdout(`${file}\n`);
        ctx.io.stdout(nextStep(result, result.written.includes(result.certFile)));
        return ExitCode.OK;
      }),
    );

  certs
    .command('issue')
    .description('issue one certificate from the existing CA in --dir: a server certificate (--host, --service) or a client certificate (--client); the CA is only read')
    .option('--dir <dir>', 'directory holding the CA (ca.pem, ca-key.pem)', 'certs')
    .option('--host <name>', 'a DNS name or IP address the server certificate also answers to (repeatable); localhost, 127.0.0.1 and ::1 are always in', collect)
    .option('--service <name>', 'add <name>.service.consul to the server certificate (repeatable)', collect)
    .option('--client <name>', 'issue a client certificate client-<name>.pem instead, identity spiffe://farol.local/client/<name>', oneClient)
    .addOption(optionWithDescribedDefault('--out <dir>', 'directory to write the certificate and key to', 'the --dir directory'))
    .addOption(optionWithDescribedDefault('--name <base>', 'write <base>.pem and <base>-key.pem', 'cert.pem and key.pem, or client-<name>.pem and client-<name>-key.pem'))
    .addOption(optionWithDescribedDefault('--days <n>', 'validity in days, never past the CA\'s expiry', '365').argParser(validityDays))
    .option('--force', 'replace that certificate and key if they exist (never the CA)')
    .action(
      action(ctx, async (flags: CertsIssueFlags) => {
        const result = await issueLeaf({
          caDir: flags.dir,
          ...(flags.out === undefined ? {} : { outDir: flags.out }),
          ...(flags.name === undefined ? {} : { name: flags.name }),
          ...(flags.client === undefined ? {} : { client: flags.client }),
          services: flags.service ?? [],
          hosts: flags.host ?? [],
          force: flags.force ?? false,
          ...(flags.days === undefined ? {} : { validityDays: flags.days }),
        });
        ctx.io.stdout(`${result.certFile}\n${result.keyFile}\n`);
        const cut = result.cutToCaExpiry ? ', cut to the CA\'s expiry' : '';
        ctx.io.stdout(`issued a ${result.usage} certificate CN=${result.commonName}, valid until ${day(result.notAfter)}${cut}, signed by ${result.caFile}${result.replaced ? ' (replaced the previous one)' : ''}\n`);
        return ExitCode.OK;
      }),
    );

  certs
    .command('renew')
    .description('re-issue every certificate in --dir (and --leaf-dir) signed by its CA that expires within --within: same names and usage, new key and serial; the CA is kept')
    .option('--dir <dir>', 'directory holding the CA (ca.pem, ca-key.pem) and certificates', 'certs')
    .option('--leaf-dir <dir>', 'also renew the certificates in this directory, e.g. one written by certs issue --out (repeatable)', collect)
    .option('--within <window>', 'renew what expires within this window: Nd for N days (a Farol extension) or a Go duration like 720h', '30d')
    .addOption(optionWithDescribedDefault('--days <n>', 'validity of the renewed certificates in days', 'the lifetime each had').argParser(validityDays))
    .option('--dry-run', 'only say what would be renewed')
    .action(
      action(ctx, async (flags: CertsRenewFlags) => {
        const result = await renewLeaves({
          caDir: flags.dir,
          leafDirs: flags.leafDir ?? [],
          withinMs: parseRenewWindow(flags.within),
          dryRun: flags.dryRun ?? false,
          ...(flags.days === undefined ? {} : { validityDays: flags.days }),
        });
        for (const line of renewReport(result, flags.within)) ctx.io.stdout(`${line}\n`);
        const stuck = result.left.filter((leaf) => leaf.needsAttention);
        if (stuck.length > 0) {
          throw new FarolError('CERT_INVALID', `${stuck.length} certificate${stuck.length === 1 ? '' : 's'} near expiry could not be renewed`, {
            hint: 'see the "NOT renewed" lines above; issue them again with farol certs issue --force',
          });
        }
        return ExitCode.OK;
      }),
    );

  certs
    .command('show')
    .description('describe certificates: subject, names, issuer, serial, validity, days left, key, usage, CA or not')
    .argument('<files...>', 'PEM certificate files (each may hold several certificates)')
    .option('--json', 'print a JSON array, one object per certificate')
    .action(
      action(ctx, async (files: string[], flags: { json?: boolean }) => {
        const shown: (CertificateDescription & { file: string; index: number })[] = [];
        let exitCode: ExitCodeValue = ExitCode.OK;
        for (const file of files) {
          try {
            const descriptions = await describeCertificateFile(file);
            descriptions.forEach((description, index) => {
              shown.push({ file, index, ...description });
              if (!flags.json) ctx.io.stdout(describeText(file, index, descriptions.length, description));
            });
          } catch (error) {
            // One unreadable file (a key matched by certs/*.pem) does not hide the others.
            const code = reportError(error, ctx);
            if (exitCode === ExitCode.OK) exitCode = code;
          }
        }
        if (flags.json) ctx.io.stdout(`${JSON.stringify(shown, null, 2)}\n`);
        return exitCode;
      }),
    );
}
