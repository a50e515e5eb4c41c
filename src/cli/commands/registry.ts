import type { Command } from 'commander';
import { optionWithDescribedDefault } from '../help.js';
import { FarolError } from '../../errors.js';
import { createLogger, reopenLogFilesOnSignal } from '../../log/logger.js';
import { DEFAULT_REGISTRY_BIND, DEFAULT_REGISTRY_PORT, startRegistry } from '../../registry/index.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { action, type CliContext } from '../run.js';

export const DEFAULT_REGISTRY_LOG_FILE = 'logs/registry-log.txt';

interface RegistryFlags {
  port: string;
  bind: string;
  token?: string;
  ca?: string;
  logFile: string;
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new FarolError('CONFIG_INVALID', `invalid --port ${JSON.stringify(text)}: must be 0-65535`, {
      hint: `the default is ${DEFAULT_REGISTRY_PORT}, Consul's HTTP port; 0 picks a free one`,
    });
  }
  return Number(text);
}

export function registerRegistryCommand(program: Command, ctx: CliContext): void {
  program
    .command('registry')
    .description('run the embedded Consul-compatible dev registry in the foreground until SIGINT/SIGTERM (one machine only; use a Consul cluster in production; SIGHUP reopens the log file)')
    .option('--port <port>', 'HTTP port (0 picks a free one)', String(DEFAULT_REGISTRY_PORT))
    .option('--bind <address>', 'address to listen on', DEFAULT_REGISTRY_BIND)
    .addOption(optionWithDescribedDefault('--token <token>', 'ACL token every request must present (X-Consul-Token or Authorization: Bearer)', '$FAROL_REGISTRY_TOKEN, else no ACL'))
    .option('--ca <file>', 'CA (PEM) that HTTPS health checks verify against, e.g. certs/ca.pem')
    .option('--log-file <file>', "log file ('-': JSON lines on stdout)", DEFAULT_REGISTRY_LOG_FILE)
    .action(action(ctx, (flags: RegistryFlags) => runRegistry(flags, ctx)));
}

async function runRegistry(flags: RegistryFlags, ctx: CliContext): Promise<ExitCodeValue> {
  const port = parsePort(flags.port);
  const token = flags.token ?? ctx.io.env.FAROL_REGISTRY_TOKEN;
  const logger = createLogger({ name: 'registry', file: flags.logFile });
  const registry = await startRegistry({
    port,
    bind: flags.bind,
    ...(token ? { token } : {}),
    ...(flags.ca !== undefined ? { caFile: flags.ca } : {}),
    logger,
  });
  // Handlers before the ready lines: a signal sent as soon as they appear finds them in place.
  const removeReopen = reopenLogFilesOnSignal({ logger }); // logrotate: rename, then SIGHUP
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  ctx.io.stdout(`farol: registry listening at ${registry.httpAddr} (CONSUL_HTTP_ADDR=${registry.address})\n`);
  ctx.io.stdout(`farol: web UI at ${registry.httpAddr}/ui/\n`);
  if (token) ctx.io.stdout('farol: ACL on: clients need CONSUL_HTTP_TOKEN set to the token\n');

  await stopped;
  removeReopen();
  await registry.close();
  logger.flush(); // log files are written in batches: the last lines are in the file when the command returns
  ctx.io.stdout('farol: registry stopped\n');
  return ExitCode.OK;
}
