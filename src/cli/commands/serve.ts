import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ConsulClient, consulOptionsFromEnv, parseGoDuration } from '../../consul/index.js';
import { FarolError } from '../../errors.js';
import { createLogger } from '../../log/logger.js';
import { CERT_FILE_NAMES } from '../../pki/index.js';
import {
  checkServerName,
  createService,
  DEFAULT_BIND,
  DEFAULT_DRAIN_DELAY_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_LOG_FILE,
  DEFAULT_PORT,
  stopOnSignals,
  type FarolService,
} from '../../service/index.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { action, type CliContext } from '../run.js';

interface ServeFlags {
  service: string;
  port: string;
  bind: string;
  address?: string;
  certs?: string;
  cert?: string;
  key?: string;
  users?: string;
  tag: string[];
  meta: string[];
  check: string;
  checkInterval: string;
  deregisterAfter: string;
  drainDelay: string;
  drainTimeout: string;
  consul?: string;
  register: boolean;
  logFile: string;
}

/** `k=v` pairs from repeated --meta flags. A later duplicate key wins. */
export function parseMetaPairs(pairs: string[]): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new FarolError('CONFIG_INVALID', `invalid --meta ${JSON.stringify(pair)}: expected key=value`, {
        hint: 'pass one --meta per pair, e.g. --meta team=platform --meta env=dev',
      });
    }
    meta[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return meta;
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new FarolError('CONFIG_INVALID', `invalid --port ${JSON.stringify(text)}: must be 0-65535`, {
      hint: 'the default is 4443; 0 picks a free port',
    });
  }
  return Number(text);
}

/** A --drain-* flag: a Go duration ("3s", "500ms", "0s") as milliseconds. */
function parseDrainDuration(flag: string, text: string): number {
  const ms = parseGoDuration(text);
  if (ms === undefined || ms < 0) {
    throw new FarolError('CONFIG_INVALID', `invalid --${flag} ${JSON.stringify(text)}: must be a duration like 3s or 500ms`, {
      hint: '0s turns the wait off',
    });
  }
  return Math.round(ms);
}

function parseCheckKind(text: string): 'https' | 'ttl' {
  if (text === 'https' || text === 'ttl') return text;
  throw new FarolError('CONFIG_INVALID', `invalid --check ${JSON.stringify(text)}: must be https or ttl`, {
    hint: 'https: Consul calls GET /health; ttl: the server sends heartbeats to Consul',
  });
}

function tlsFiles(flags: ServeFlags, env: NodeJS.ProcessEnv): { certFile: string; keyFile: string } {
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new FarolError('CONFIG_INVALID', '--cert and --key go together', {
      hint: 'pass both, or neither to use cert.pem and key.pem from --certs',
    });
  }
  if (flags.cert !== undefined && flags.key !== undefined) return { certFile: flags.cert, keyFile: flags.key };
  const dir = flags.certs ?? env.FAROL_CERTS_DIR ?? 'certs';
  return { certFile: join(dir, CERT_FILE_NAMES.cert), keyFile: join(dir, CERT_FILE_NAMES.key) };
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerServeCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('serve a service over HTTPS with basic auth, registered in Consul with a health check, until SIGINT/SIGTERM')
    .requiredOption('--service <name>', 'Consul service name')
    .option('--port <port>', 'port to listen on (0 picks a free one)', String(DEFAULT_PORT))
    .option('--bind <address>', 'address to listen on', DEFAULT_BIND)
    .option('--address <address>', 'address registered in Consul (default: --bind, or 127.0.0.1 for 0.0.0.0)')
    .option('--certs <dir>', 'folder with cert.pem and key.pem (env FAROL_CERTS_DIR, default certs)')
    .option('--cert <file>', 'server certificate (PEM), instead of --certs')
    .option('--key <file>', 'server private key (PEM), with --cert')
    .option('--users <file>', 'users file from `farol users add` (env FAROL_USERS_FILE, default users.txt)')
    .option('--tag <tag>', 'Consul tag (repeatable)', collect, [])
    .option('--meta <key=value>', 'Consul service meta (repeatable)', collect, [])
    .option('--check <kind>', 'health check: https (Consul calls /health) or ttl (heartbeats)', 'https')
    .option('--check-interval <duration>', 'https: how often Consul checks; ttl: the TTL', '10s')
    .option('--deregister-after <duration>', 'Consul removes an instance critical for this long', '1m')
    .option('--drain-delay <duration>', 'on SIGTERM: time between leaving Consul\'s passing set and closing the port', `${DEFAULT_DRAIN_DELAY_MS / 1000}s`)
    .option('--drain-timeout <duration>', 'on SIGTERM: longest wait for in-flight requests once the port is closed', `${DEFAULT_DRAIN_TIMEOUT_MS / 1000}s`)
    .option('--consul <address>', 'Consul agent address (env CONSUL_HTTP_ADDR, default 127.0.0.1:8500)')
    .option('--no-register', 'do not register in Consul (standalone)')
    .option('--log-file <file>', 'audit log file', DEFAULT_LOG_FILE)
    .action(action(ctx, (flags: ServeFlags) => serve(flags, ctx)));
}

async function serve(flags: ServeFlags, ctx: CliContext): Promise<ExitCodeValue> {
  const { env } = ctx.io;
  const meta = parseMetaPairs(flags.meta);
  const port = parsePort(flags.port);
  const kind = parseCheckKind(flags.check);
  const tls = tlsFiles(flags, env);
  const drain = { delayMs: parseDrainDuration('drain-delay', flags.drainDelay), timeoutMs: parseDrainDuration('drain-timeout', flags.drainTimeout) };
  const logger = createLogger({ name: 'server', file: flags.logFile });
  const consul = flags.register
    ? new ConsulClient({ ...consulOptionsFromEnv(env), ...(flags.consul !== undefined ? { address: flags.consul } : {}), logger })
    : undefined;

  let service: FarolService | undefined;
  try {
    service = await createService({
      name: flags.service,
      port,
      bind: flags.bind,
      ...(flags.address !== undefined ? { advertiseAddress: flags.address } : {}),
      tls,
      usersFile: flags.users ?? env.FAROL_USERS_FILE ?? 'users.txt',
      consul: consul ?? false,
      tags: flags.tag,
      meta,
      check: kind === 'ttl' ? { kind, ttl: flags.checkInterval, deregisterCriticalAfter: flags.deregisterAfter }
        : { kind, interval: flags.checkInterval, deregisterCriticalAfter: flags.deregisterAfter },
      drain,
      logger,
    });
    if (consul && kind === 'https') {
      const { warning } = checkServerName(await readFile(tls.certFile, 'utf8'), new URL(service.url).hostname);
      if (warning) ctx.io.stderr(`farol: warning: ${warning}\n`);
    }
    await service.start();
  } catch (error) {
    await consul?.close();
    throw error;
  }

  const where = consul ? `registered in Consul at ${consul.address}` : 'not registered in Consul';
  ctx.io.stdout(`farol: serving ${service.name} instance ${service.instanceId} at ${service.url} (${where})\n`);

  const running = service;
  const code = await new Promise<number>((resolve) => {
    const removeHandlers = stopOnSignals(running, {
      logger,
      onExit: (exitCode) => {
        removeHandlers();
        // A second signal: do not wait for in-flight requests.
        if (exitCode !== 0) running.app.server.closeAllConnections();
        resolve(exitCode);
      },
    });
  });
  if (code === 0) await consul?.close();
  return code === 0 ? ExitCode.OK : ExitCode.UNEXPECTED;
}
