import { join } from 'node:path';
import type { Command } from 'commander';
import { optionWithDescribedDefault } from '../help.js';
import { Registry } from 'prom-client';
import { DEFAULT_METRICS_HOST, serveMetrics, type MetricsServer } from '../../events/serve-metrics.js';
import { ConsulClient, consulOptionsFromEnv } from '../../consul/index.js';
import { FarolError } from '../../errors.js';
import { createLogger, reopenLogFilesOnSignal } from '../../log/logger.js';
import { CERT_FILE_NAMES } from '../../pki/index.js';
import {
  createService,
  DEFAULT_BIND,
  DEFAULT_DRAIN_DELAY_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_LOG_FILE,
  DEFAULT_PORT,
  MAX_DRAIN_DELAY_MS,
  MAX_DRAIN_TIMEOUT_MS,
  reloadOnSignal,
  stopOnSignals,
  type FarolService,
  type ServiceOptions,
} from '../../service/index.js';
import { parseDurationFlag } from '../duration-flag.js';
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
  jwksUrl?: string;
  jwksCa?: string;
  issuer?: string;
  audience?: string;
  clientCa?: string;
  clientCertRequired?: boolean;
  requireScope: string[];
  allow: string[];
  tag: string[];
  meta: string[];
  check?: string;
  healthPort: string;
  headersTimeout: string;
  handshakeTimeout: string;
  checkInterval: string;
  deregisterAfter: string;
  drainDelay: string;
  drainTimeout: string;
  consul?: string;
  register: boolean;
  logFile: string;
  metricsPort?: string;
  metricsBind: string;
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

function parsePortFlag(flag: 'port' | 'health-port' | 'metrics-port', text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new FarolError('CONFIG_INVALID', `invalid --${flag} ${JSON.stringify(text)}: must be 0-65535`, { hint: '0 picks a free port' });
  }
  return Number(text);
}

/** --headers-timeout / --handshake-timeout: 100ms to 1h, as milliseconds. */
function parseTimeoutFlag(flag: 'headers-timeout' | 'handshake-timeout', text: string): number {
  const ms = Math.round(parseDurationFlag(flag, text, { sign: 'positive', maxMs: 3_600_000, example: '15s' }));
  if (ms < 100) {
    throw new FarolError('CONFIG_INVALID', `invalid --${flag} ${JSON.stringify(text)}: must be at least 100ms`, { hint: 'the default is 15s' });
  }
  return ms;
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new FarolError('CONFIG_INVALID', `invalid --port ${JSON.stringify(text)}: must be 0-65535`, {
      hint: 'the default is 4443; 0 picks a free port',
    });
  }
  return Number(text);
}

/** A --drain-* flag: a Go duration ("3s", "500ms", "0s") as milliseconds, within the service's limit. */
function parseDrainDuration(flag: 'drain-delay' | 'drain-timeout', text: string): number {
  const maxMs = flag === 'drain-delay' ? MAX_DRAIN_DELAY_MS : MAX_DRAIN_TIMEOUT_MS;
  return Math.round(parseDurationFlag(flag, text, { maxMs, example: '3s or 500ms', note: '0s turns the wait off' }));
}

function parseCheckKind(text: string | undefined): 'https' | 'ttl' | undefined {
  if (text === undefined || text === 'https' || text === 'ttl') return text;
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

/** The authentication part of the service options, from the flags: Basic, bearer JWT, client certificates, requirements. */
export function authOptions(flags: ServeFlags, env: NodeJS.ProcessEnv): Pick<ServiceOptions, 'usersFile' | 'jwt' | 'clientCertificates' | 'require'> {
  const jwtFlags = [flags.jwksUrl, flags.issuer, flags.audience];
  if (jwtFlags.some((flag) => flag !== undefined) && jwtFlags.some((flag) => flag === undefined)) {
    throw new FarolError('CONFIG_INVALID', '--jwks-url, --issuer and --audience go together', {
      hint: "bearer tokens are checked against the issuer's keys (--jwks-url), its name (--issuer) and this service's name in the tokens (--audience)",
    });
  }
  if (flags.jwksCa !== undefined && flags.jwksUrl === undefined) {
    throw new FarolError('CONFIG_INVALID', '--jwks-ca needs --jwks-url', { hint: 'it is the CA of the JWKS server certificate' });
  }
  if (flags.clientCertRequired === true && flags.clientCa === undefined) {
    throw new FarolError('CONFIG_INVALID', '--client-cert-required needs --client-ca', { hint: 'pass the CA that issues client certificates, e.g. certs/ca.pem' });
  }
  const jwt = flags.jwksUrl !== undefined && flags.issuer !== undefined && flags.audience !== undefined
    ? { jwksUrl: flags.jwksUrl, issuer: flags.issuer, audience: flags.audience, ...(flags.jwksCa !== undefined ? { ca: { file: flags.jwksCa } } : {}) }
    : undefined;
  const clientCertificates = flags.clientCa !== undefined
    ? { ca: { file: flags.clientCa }, ...(flags.clientCertRequired === true ? { required: true } : {}) }
    : undefined;
  // Basic auth stays the default, and is on whenever a users file is named.
  const usersFile = flags.users ?? env.FAROL_USERS_FILE ?? (jwt || clientCertificates ? undefined : 'users.txt');
  const require = {
    ...(flags.requireScope.length > 0 ? { scopes: flags.requireScope } : {}),
    ...(flags.allow.length > 0 ? { principals: flags.allow } : {}),
  };
  return {
    ...(usersFile !== undefined ? { usersFile } : {}),
    ...(jwt ? { jwt } : {}),
    ...(clientCertificates ? { clientCertificates } : {}),
    ...(Object.keys(require).length > 0 ? { require } : {}),
  };
}

export function registerServeCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('serve a service over HTTPS with basic auth, bearer JWTs or client certificates, registered in Consul with a health check, until SIGINT/SIGTERM (SIGHUP: reopen the log file, read the users file again; the users file is also watched)')
    .requiredOption('--service <name>', 'Consul service name')
    .option('--port <port>', 'port to listen on (0 picks a free one)', String(DEFAULT_PORT))
    .option('--bind <address>', 'address to listen on', DEFAULT_BIND)
    .addOption(optionWithDescribedDefault('--address <address>', 'address registered in Consul', '--bind, or 127.0.0.1 for 0.0.0.0'))
    .addOption(optionWithDescribedDefault('--certs <dir>', 'folder with cert.pem and key.pem', '$FAROL_CERTS_DIR, else certs'))
    .option('--cert <file>', 'server certificate (PEM), instead of --certs')
    .option('--key <file>', 'server private key (PEM), with --cert')
    .addOption(optionWithDescribedDefault('--users <file>', 'basic auth: users file from `farol users add`', '$FAROL_USERS_FILE, else users.txt unless --jwks-url or --client-ca'))
    .option('--jwks-url <url>', "bearer JWTs: the issuer's JWKS endpoint (https), with --issuer and --audience")
    .option('--issuer <iss>', 'bearer JWTs: the iss a token must carry')
    .option('--audience <aud>', "bearer JWTs: the aud a token must carry (this service's identifier)")
    .addOption(optionWithDescribedDefault('--jwks-ca <file>', 'CA of the JWKS server certificate', 'the system CAs'))
    .option('--client-ca <file>', 'mTLS: accept client certificates issued by this CA (e.g. certs/ca.pem)')
    .option('--client-cert-required', 'mTLS: refuse connections without a trusted client certificate at the handshake (always so when certificates are the only way in)')
    .option('--require-scope <scope>', 'every route needs a token with this scope (repeatable)', collect, [])
    .option('--allow <principal>', 'only these principals may call (user names, token subjects, certificate identities; repeatable)', collect, [])
    .option('--tag <tag>', 'Consul tag (repeatable)', collect, [])
    .option('--meta <key=value>', 'Consul service meta (repeatable)', collect, [])
    .addOption(optionWithDescribedDefault('--check <kind>', 'health check: https (Consul calls /health) or ttl (heartbeats)', 'https, or ttl with a warning when Consul could not verify the certificate'))
    .option('--check-interval <duration>', 'https: how often Consul checks; ttl: the TTL', '10s')
    .option('--health-port <port>', 'mTLS with certificates required: port of the listener that serves only /health without a client certificate, for Consul (0 picks a free one)', '0')
    .option('--headers-timeout <duration>', "drop a caller whose request headers have not all arrived after this long", '15s')
    .option('--handshake-timeout <duration>', 'drop a caller whose TLS handshake has not finished after this long', '15s')
    .option('--deregister-after <duration>', 'Consul removes an instance critical for this long', '1m')
    .option('--drain-delay <duration>', 'on SIGTERM: time between leaving Consul\'s passing set and closing the port', `${DEFAULT_DRAIN_DELAY_MS / 1000}s`)
    .option('--drain-timeout <duration>', 'on SIGTERM: longest wait for in-flight requests once the port is closed', `${DEFAULT_DRAIN_TIMEOUT_MS / 1000}s`)
    .addOption(optionWithDescribedDefault('--consul <address>', 'Consul agent address', '$CONSUL_HTTP_ADDR, else 127.0.0.1:8500'))
    .option('--no-register', 'do not register in Consul (standalone)')
    .option('--log-file <file>', "audit log file ('-': JSON lines on stdout)", DEFAULT_LOG_FILE)
    .option('--metrics-port <port>', 'serve Prometheus metrics at http://<metrics-bind>:<port>/metrics (plain HTTP; 0 picks a free port)')
    .option('--metrics-bind <address>', 'address of the metrics listener', DEFAULT_METRICS_HOST)
    .action(action(ctx, (flags: ServeFlags) => serve(flags, ctx)));
}

async function serve(flags: ServeFlags, ctx: CliContext): Promise<ExitCodeValue> {
  const { env } = ctx.io;
  const meta = parseMetaPairs(flags.meta);
  const port = parsePort(flags.port);
  const kind = parseCheckKind(flags.check);
  const healthPort = parsePortFlag('health-port', flags.healthPort);
  const timeouts = {
    headersMs: parseTimeoutFlag('headers-timeout', flags.headersTimeout),
    handshakeMs: parseTimeoutFlag('handshake-timeout', flags.handshakeTimeout),
  };
  const tls = tlsFiles(flags, env);
  const drain = { delayMs: parseDrainDuration('drain-delay', flags.drainDelay), timeoutMs: parseDrainDuration('drain-timeout', flags.drainTimeout) };
  // Checked here to name the flag; the values go to Consul as written (any Go duration, 2000h included).
  parseDurationFlag('check-interval', flags.checkInterval, { sign: 'positive', note: kind === 'ttl' ? 'with --check ttl it is the TTL' : 'how often Consul calls /health' });
  parseDurationFlag('deregister-after', flags.deregisterAfter, { example: '1m or 90s' });
  const metricsPort = flags.metricsPort === undefined ? undefined : parsePortFlag('metrics-port', flags.metricsPort);
  const registry = metricsPort === undefined ? undefined : new Registry();
  const logger = createLogger({ name: 'server', file: flags.logFile });
  const consul = flags.register
    ? new ConsulClient({ ...consulOptionsFromEnv(env, { address: flags.consul }), logger })
    : undefined;

  let service: FarolService | undefined;
  let metricsServer: MetricsServer | undefined;
  let started: FarolService | undefined;
  try {
    service = await createService({
      name: flags.service,
      port,
      bind: flags.bind,
      ...(flags.address !== undefined ? { advertiseAddress: flags.address } : {}),
      tls,
      ...authOptions(flags, env),
      consul: consul ?? false,
      tags: flags.tag,
      meta,
      check: kind === 'ttl' ? { kind, ttl: flags.checkInterval, deregisterCriticalAfter: flags.deregisterAfter }
        : kind === 'https' ? { kind, interval: flags.checkInterval, deregisterCriticalAfter: flags.deregisterAfter }
        // Left to the service: https, or ttl when Consul could not verify the certificate.
        : { interval: flags.checkInterval, ttl: flags.checkInterval, deregisterCriticalAfter: flags.deregisterAfter },
      health: { port: healthPort },
      timeouts,
      drain,
      logger,
      ...(registry ? { metrics: registry } : {}),
    });
    const plan = service.healthCheck;
    if (consul && plan.kind === 'ttl' && plan.warning !== undefined) ctx.io.stderr(`farol: warning: ${plan.warning}\n`);
    await service.start();
    started = service;
    if (registry && metricsPort !== undefined) metricsServer = await serveMetrics(registry, { port: metricsPort, host: flags.metricsBind });
  } catch (error) {
    // The metrics port was taken: the instance that already registered leaves at once.
    await started?.stop({ reason: 'metrics listener failed' }).catch(() => undefined);
    await consul?.close();
    throw error;
  }
  const running = service;
  // Handlers before the ready lines: a signal sent as soon as they appear finds them in place
  // (SIGHUP's default action would end the process, SIGTERM's would skip the drain).
  // SIGHUP (logrotate, an operator): log files reopened first, then the users file read again.
  const removeSighup = [reopenLogFilesOnSignal({ logger }), reloadOnSignal(running, { logger })];
  const exited = new Promise<number>((resolve) => {
    const removeHandlers = stopOnSignals(running, {
      logger,
      onExit: (exitCode) => {
        removeHandlers();
        for (const remove of removeSighup) remove();
        // A second signal: do not wait for in-flight requests.
        if (exitCode !== 0) running.app.server.closeAllConnections();
        resolve(exitCode);
      },
    });
  });
  if (metricsServer) ctx.io.stdout(`farol: metrics at ${metricsServer.url}\n`);

  const where = consul ? `registered in Consul at ${consul.address}` : 'not registered in Consul';
  ctx.io.stdout(`farol: serving ${service.name} instance ${service.instanceId} at ${service.url} (${where})\n`);
  if (service.healthPort !== undefined) {
    const healthUrl = new URL(service.url);
    healthUrl.port = String(service.healthPort);
    ctx.io.stdout(`farol: ${healthUrl.origin}/health answers without a client certificate (for Consul's check)\n`);
  }

  const code = await exited;
  await metricsServer?.close();
  if (code === 0) await consul?.close();
  return code === 0 ? ExitCode.OK : ExitCode.UNEXPECTED;
}
