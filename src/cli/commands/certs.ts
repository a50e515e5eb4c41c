import { InvalidArgumentError, type Command } from 'commander';
import { initCertificates, type InitCertificatesResult } from '../../pki/index.js';
import { ExitCode } from '../exit-codes.js';
import { action, type CliContext } from '../run.js';

interface CertsInitFlags {
  dir: string;
  service?: string[];
  host?: string[];
  client?: string[];
  days?: number;
  force?: boolean;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function positiveDays(value: string): number {
  const days = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(days) || days < 1) {
    throw new InvalidArgumentError('expected a whole number of days, at least 1');
  }
  return days;
}

function nextStep(result: InitCertificatesResult, wroteServerCertificate: boolean): string {
  if (wroteServerCertificate) {
    return `next: serve with certificate ${result.certFile} and key ${result.keyFile}; callers trust ${result.caFile}\n`;
  }
  return `next: each client connects with its client-<name>.pem and client-<name>-key.pem; services verify them with ${result.caFile}\n`;
}

export function registerCertsCommand(program: Command, ctx: CliContext): void {
  const certs = program.command('certs').description('create TLS certificates for services and clients');
  certs
    .command('init')
    .description('create a CA, a server certificate (localhost, 127.0.0.1, ::1, <service>.service.consul) and client certificates')
    .option('--dir <dir>', 'directory to write the PEM files to', 'certs')
    .option('--service <name>', 'add <name>.service.consul to the server certificate (repeatable)', collect)
    .option('--host <name>', 'add a DNS name or IP address to the server certificate, e.g. a container host name (repeatable)', collect)
    .option('--client <name>', 'also issue a client certificate client-<name>.pem, identity spiffe://farol.local/client/<name> (repeatable)', collect)
    .option('--days <n>', 'validity of the server and client certificates in days (default 365)', positiveDays)
    .option('--force', 'replace existing files, including the CA')
    .action(
      action(ctx, async (flags: CertsInitFlags) => {
        const result = await initCertificates({
          dir: flags.dir,
          services: flags.service,
          hosts: flags.host,
          clients: flags.client,
          force: flags.force ?? false,
          ...(flags.days === undefined ? {} : { validityDays: flags.days }),
        });
        for (const file of result.written) ctx.io.stdout(`${file}\n`);
        ctx.io.stdout(nextStep(result, result.written.includes(result.certFile)));
        return ExitCode.OK;
      }),
    );
}
