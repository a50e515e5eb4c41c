import { STATUS_CODES } from 'node:http';
import type { Command } from 'commander';
import { optionWithDescribedDefault } from '../help.js';
import {
  BALANCER_KINDS,
  createClient,
  DEFAULT_BALANCER,
  DEFAULT_CLIENT_LOG_FILE,
  DEFAULT_RETRIES,
  formatReport,
  hostPort,
  repeatCalls,
  type BalancerKind,
  type CallResult,
} from '../../client/index.js';
import { consulOptionsFromEnv } from '../../consul/index.js';
import { FarolError } from '../../errors.js';
import { MAX_TIMER_DELAY_MS } from '../../timers/long-timeout.js';
import { parseDurationFlag } from '../duration-flag.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { callCredentials, type CallCredentials, type CredentialFlags } from './call-credentials.js';
import { action, type CliContext } from '../run.js';

interface CallFlags extends CredentialFlags {
  ca?: string;
  serverName?: string;
  method?: string;
  data?: string;
  header: string[];
  consul?: string;
  timeout: string;
  balancer: string;
  retries: string;
  repeat?: string;
  concurrency: string;
  logFile: string;
  json?: boolean;
}

/** Parses a whole-number flag within [min, max]. */
export function parseCountFlag(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(value >= min && value <= max)) {
    throw new FarolError('CONFIG_INVALID', `${flag} ${JSON.stringify(text)} is not a whole number from ${min} to ${max}`, {
      hint: `write it as ${flag} ${min === 0 ? 2 : Math.min(max, 10)}`,
    });
  }
  return value;
}

export function parseBalancerFlag(text: string): BalancerKind {
  const kind = BALANCER_KINDS.find((k) => k === text.trim());
  if (!kind) {
    throw new FarolError('CONFIG_INVALID', `--balancer ${JSON.stringify(text)} is not a balancer Farol has`, {
      hint: `use one of ${BALANCER_KINDS.join(', ')}`,
    });
  }
  return kind;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Parses a --header value 'Name: value'. Credentials are refused: they never come from argv. */
export function parseHeaderFlag(text: string): [name: string, value: string] {
  const colon = text.indexOf(':');
  const name = colon < 0 ? '' : text.slice(0, colon).trim();
  const value = colon < 0 ? '' : text.slice(colon + 1).trim();
  if (colon < 0 || !HEADER_NAME.test(name) || /[\r\n\0]/.test(value)) {
    throw new FarolError('CONFIG_INVALID', `--header ${JSON.stringify(text)} is not a header of the form 'Name: value'`, {
      hint: "write it as --header 'Accept: application/json'",
    });
  }
  if (name.toLowerCase() === 'authorization') {
    throw new FarolError('CONFIG_INVALID', '--header Authorization is refused: credentials never go on the command line', {
      hint: 'use --user NAME with the password in FAROL_PASSWORD (or typed at the prompt)',
    });
  }
  return [name, value];
}

/** --timeout: a Go duration such as '10s', '500ms' or '2m', in milliseconds, at most setTimeout's 2^31-1 ms. */
export function parseTimeoutFlag(text: string): number {
  return parseDurationFlag('timeout', text, { sign: 'positive', maxMs: MAX_TIMER_DELAY_MS, example: '10s or 500ms' });
}

function summary(result: CallResult): string {
  const reason = STATUS_CODES[result.status];
  return `${result.status}${reason ? ` ${reason}` : ''} from ${result.instance.id} at ${hostPort(result.instance)} in ${Math.round(result.latencyMs)} ms\n`;
}

/** Successful statuses exit 0; the others become the FarolError a script can tell apart. */
function checkStatus(result: CallResult, service: string, method: string, path: string, who: CallCredentials): ExitCodeValue {
  const { status } = result;
  if (status >= 200 && status < 300) return ExitCode.OK;
  if (status === 401) {
    const message = who.label
      ? `'${service}' rejected the credentials of ${who.label} (401)`
      : `the service '${service}' requires credentials (401)`;
    throw new FarolError('AUTH_REJECTED', message, { hint: who.hint401 });
  }
  if (status === 403) {
    throw new FarolError('FORBIDDEN', `${who.label ?? 'this client'} may not ${method} ${path} on '${service}' (403)`, {
      hint: `ask the owner of '${service}' to grant access (a scope, or your identity on the route's list)`,
    });
  }
  if (status === 429) {
    throw new FarolError('AUTH_REJECTED', `'${service}' refused the login: too many failed attempts (429)`, {
      hint: `wait ${String(result.headers['retry-after'] ?? 'a few')} seconds, and check the credentials before trying again`,
    });
  }
  throw new FarolError('REQUEST_FAILED', `'${service}' answered ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''} to ${method} ${path}`, {
    hint: `see the log of instance ${result.instance.id} (its server log)`,
  });
}

export function registerCallCommand(program: Command, ctx: CliContext): void {
  program
    .command('call')
    .description('find a passing instance of SERVICE in Consul and call it over verified TLS')
    .argument('<service>', 'Consul service name')
    .argument('[path]', 'request path', '/')
    .addOption(optionWithDescribedDefault('--user <name>', 'user for basic authentication; the password comes from $FAROL_PASSWORD or a prompt', '$FAROL_USER'))
    .option('--token', 'send a bearer token, read from $FAROL_TOKEN or a prompt')
    .option('--oauth-issuer <url>', 'get tokens with OAuth2 client credentials from this issuer (discovery); the secret comes from $FAROL_CLIENT_SECRET')
    .option('--oauth-token-url <url>', 'the token endpoint, instead of --oauth-issuer')
    .option('--client-id <id>', 'OAuth2 client id')
    .option('--scope <scopes>', 'OAuth2 scopes to ask for (space- or comma-separated)')
    .option('--audience <uri>', 'the service to ask a token for (RFC 8707 resource)')
    .addOption(optionWithDescribedDefault('--oauth-ca <file>', "CA of the authorization server's certificate", 'the system CAs'))
    .option('--cert <file>', 'client certificate (PEM) for mTLS, e.g. certs/client-alice.pem')
    .option('--key <file>', 'private key of --cert')
    .addOption(optionWithDescribedDefault('--ca <file>', 'CA certificate that signed the service certificates', '$FAROL_CA, else certs/ca.pem'))
    .option('--server-name <name>', "TLS name the certificate must carry; '{service}' becomes the service name")
    .addOption(optionWithDescribedDefault('--method <method>', 'HTTP method', 'GET, or POST with --data'))
    .option('--data <body>', 'request body')
    .option('--header <header>', "request header 'Name: value' (repeatable)", (value: string, all: string[]) => [...all, value], [])
    .addOption(optionWithDescribedDefault('--consul <addr>', 'Consul HTTP address', '$CONSUL_HTTP_ADDR, else 127.0.0.1:8500'))
    .option('--timeout <duration>', 'timeout of each try', '10s')
    .option('--balancer <kind>', `how an instance is chosen: ${BALANCER_KINDS.join(', ')}`, DEFAULT_BALANCER)
    .option('--retries <n>', 'further tries on other instances after a failure (idempotent methods only)', String(DEFAULT_RETRIES))
    .option('--repeat <n>', 'make N calls and print which instance answered, the failures and latency percentiles')
    .option('--concurrency <c>', 'calls in flight at once with --repeat', '1')
    .option('--log-file <file>', "client log file ('-': JSON lines on stdout)", DEFAULT_CLIENT_LOG_FILE)
    .option('--json', 'print status, headers, body and instance as one JSON object')
    .action(
      action(ctx, async (service: string, path: string, flags: CallFlags) => {
        const env = ctx.io.env;
        const headers = Object.fromEntries(flags.header.map(parseHeaderFlag));
        const timeoutMs = parseTimeoutFlag(flags.timeout);
        const balancer = parseBalancerFlag(flags.balancer);
        const retries = parseCountFlag('--retries', flags.retries, 0, 10);
        const repeat = flags.repeat === undefined ? undefined : parseCountFlag('--repeat', flags.repeat, 1, 10_000_000);
        const concurrency = parseCountFlag('--concurrency', flags.concurrency, 1, 10_000);
        const method = (flags.method ?? (flags.data === undefined ? 'GET' : 'POST')).toUpperCase();
        const who = await callCredentials(flags, ctx);

        const client = createClient({
          consul: consulOptionsFromEnv(env, { address: flags.consul }),
          tls: {
            ca: { file: flags.ca ?? (env.FAROL_CA || 'certs/ca.pem') },
            ...(who.clientCertificate ? { clientCertificate: who.clientCertificate } : {}),
            ...(flags.serverName ? { serverName: flags.serverName } : {}),
          },
          ...(who.provider ? { credentials: who.provider } : {}),
          retry: { timeoutMs, retries },
          balancer,
          logFile: flags.logFile,
        });
        const callOptions = { method, path, headers, ...(flags.data === undefined ? {} : { body: flags.data }) };
        try {
          if (repeat !== undefined) {
            const report = await repeatCalls(client, service, { requests: repeat, concurrency, call: callOptions });
            if (flags.json) ctx.io.stdout(`${JSON.stringify(report)}\n`);
            else ctx.io.stdout(formatReport(report));
            if (report.failed === 0) return ExitCode.OK;
            throw new FarolError('REQUEST_FAILED', `${report.failed} of ${report.requests} calls to '${service}' failed`, {
              hint: 'see the failures above and the client log',
            });
          }
          const result = await client.call(service, callOptions);
          if (flags.json) ctx.io.stdout(`${JSON.stringify(result)}\n`);
          else if (result.body !== '') ctx.io.stdout(result.body.endsWith('\n') ? result.body : `${result.body}\n`);
          ctx.io.stderr(summary(result));
          return checkStatus(result, service, method, path, who);
        } finally {
          await client.close();
          await who.close();
        }
      }),
    );
}
