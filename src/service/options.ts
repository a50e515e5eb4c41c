import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type {
  AccessRequirement,
  AttemptLimiterOptions,
  Authenticator,
  CertificateAuthenticatorOptions,
  JwtClaimsOptions,
  JwtKeyOptions,
} from '../auth/index.js';
import { accessRequirement } from '../auth/index.js';
import { ConsulClient, type ConsulClientOptions } from '../consul/index.js';
import { MAX_GO_DURATION_TEXT, tryParseGoDuration } from '../consul-wire/duration.js';
import { FarolError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { caSourceSchema, toCaSource, type CaSource, type KeyPairSource } from '../pki/index.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_HEADERS_TIMEOUT_MS } from '../pki/tls-policy.js';
import { HEALTH_PATH } from './health-path.js';

/**
 * The listener's certificate and key: PEM text ({ certPem, keyPem }) or files ({ certFile, keyFile }),
 * re-read when they change and on reload(). `ca` (or `caFile`): the CA(s) the certificate must chain
 * to, checked before a new certificate is used.
 */
export type ServiceTlsOptions = KeyPairSource & { ca?: CaSource; caFile?: string };
/** @deprecated the file form of ServiceTlsOptions. */
export type TlsFiles = { certFile: string; keyFile: string; caFile?: string };

export type HealthCheckKind = 'https' | 'ttl';

/**
 * Bearer JWTs (see createJwtAuthenticator; the realm is the service name): `issuer`, `audience`
 * and one key source, usually `jwksUrl`. `caFile` (or `ca`) verifies the JWKS server's TLS.
 */
export type JwtOptions = Omit<JwtClaimsOptions, 'realm'> & JwtKeyOptions & { caFile?: string };

/**
 * TLS client certificates (mTLS), verified against `ca` (a CaSource or PEM text; `caFile` is
 * `ca: { file }`), re-read when its file changes, and mapped to a principal
 * as createCertificateAuthenticator says. `required` (default: when certificates are the
 * service's only way to authenticate) turns callers without a trusted certificate away at the
 * handshake; otherwise they may authenticate another way, and an untrusted certificate is a 401.
 */
export type ClientCertificateOptions = Omit<CertificateAuthenticatorOptions, 'now'> & {
  ca?: CaSource | string;
  caFile?: string;
  required?: boolean;
};

export interface ServiceOptions {
  /** Consul service name. */
  name: string;
  /** Default 4443; 0 picks a free port. */
  port?: number;
  /** Listen address, default 127.0.0.1. */
  bind?: string;
  /** Address registered in Consul; default = bind (or 127.0.0.1 if bind is 0.0.0.0 / ::). */
  advertiseAddress?: string;
  tls: ServiceTlsOptions;
  /**
   * How callers authenticate, at least one: a users file (Basic, realm = the service name;
   * watched, so a change applies within 2 s without a restart, and service.reload() reads it at
   * once), bearer JWTs, client certificates, and authenticators of your own (tried last).
   */
  usersFile?: string;
  jwt?: JwtOptions;
  clientCertificates?: ClientCertificateOptions;
  authenticators?: Authenticator[];
  /** Limits on failed Basic logins per address and user name (see attempt-limiter.ts); false turns them off. */
  loginLimits?: AttemptLimiterOptions | false;
  /** What every route demands of an authenticated caller; a route's `config.auth.require` may demand more. */
  require?: AccessRequirement;
  /** false = standalone, never registered. Default: Consul's own environment variables. */
  consul?: ConsulClient | ConsulClientOptions | false;
  tags?: string[];
  meta?: Record<string, string>;
  /**
   * Consul's health check. `kind` defaults to https (Consul calls GET `path`), or to ttl, with a
   * warning, when Consul could not verify the certificate (no subjectAltName naming the advertised
   * address or a DNS name); an explicit https with such a certificate is a CONFIG_INVALID error.
   * `path` (default /health) is where the instance answers the check: another one for an app that
   * already serves /health itself.
   */
  check?: { kind?: HealthCheckKind; interval?: string; timeout?: string; deregisterCriticalAfter?: string; ttl?: string; path?: string };
  /**
   * When client certificates are required at the handshake, GET /health is also served, alone and
   * without a client certificate, on a second HTTPS port: `port` (default 0, a free port). Consul's
   * HTTPS check goes there.
   */
  health?: { port?: number };
  /**
   * Bounds on slow clients (default 15000 ms each): a TLS handshake, and the arrival of a request's
   * headers, that take longer drop the connection.
   */
  timeouts?: { handshakeMs?: number; headersMs?: number };
  /**
   * Graceful drain on stop(): the instance leaves Consul's passing set at once (maintenance mode),
   * then `delayMs` (default 3000) lets watchers see that before the port closes; in-flight
   * requests then get up to `timeoutMs` (default 30000) to finish before their connections are cut.
   */
  drain?: { delayMs?: number; timeoutMs?: number };
  /**
   * Anti-entropy: every `intervalMs` (default 2000; 0 = off) the host asks its agent whether it
   * still knows the instance, and registers it again if not (e.g. after an agent restart).
   */
  keepRegistered?: { intervalMs?: number };
  /**
   * Audit log file ('-': stdout), ignored when `logger` is given. Neither: no log is written (the
   * events can still be subscribed to, see src/events). `farol serve` passes logs/server-log.txt.
   */
  logFile?: string;
  logger?: Logger;
  /** Extra routes; every one of them requires authentication. */
  routes?: (app: FastifyInstance) => void | Promise<void>;
  /** Prometheus metrics of this service host: true (prom-client's default registry) or a prom-client Registry. Default off. */
  metrics?: boolean | Registry;
  /** OpenTelemetry SERVER spans continuing the caller's traceparent; default true, free until an SDK is registered. */
  tracing?: boolean;
}

export const DEFAULT_PORT = 4443;
export const DEFAULT_BIND = '127.0.0.1';
/** The log file of `farol serve` (the original project's); the library itself writes none by default. */
export const DEFAULT_LOG_FILE = 'logs/server-log.txt';
export const DEFAULT_DRAIN_DELAY_MS = 3000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
export const MAX_DRAIN_DELAY_MS = 600_000;
export const MAX_DRAIN_TIMEOUT_MS = 3_600_000;
export const DEFAULT_KEEP_REGISTERED_INTERVAL_MS = 2000;
/** Meta keys Farol writes itself. */
export const RESERVED_META_KEYS = ['farol_version', 'scheme'] as const;

/** A Go duration as Consul's agent reads it (at most 2562047h47m16.854775807s); `positive`: more than 0. */
const goDuration = (positive: boolean) =>
  z.string().superRefine((text, ctx) => {
    const parsed = tryParseGoDuration(text);
    if ('error' in parsed) {
      ctx.addIssue({ code: 'custom', message: `must be a duration like 10s, 1m30s or 500ms, at most ${MAX_GO_DURATION_TEXT} (${parsed.error.message})` });
    } else if (positive ? parsed.ns <= 0n : parsed.ns < 0n) {
      ctx.addIssue({ code: 'custom', message: `must be ${positive ? 'more than 0' : '0 or more'}, like 10s, 1m30s or 500ms` });
    }
  });
const nonEmpty = z.string().min(1, { error: 'must not be empty' });
const milliseconds = (max: number) =>
  z
    .number({ error: `must be 0-${max} (milliseconds)` })
    .int({ error: `must be 0-${max} (milliseconds)` })
    .min(0, { error: `must be 0-${max} (milliseconds)` })
    .max(max, { error: `must be 0-${max} (milliseconds)` });

const tlsCa = { ca: caSourceSchema.optional(), caFile: nonEmpty.optional() };
const tls = z
  .union([z.object({ certFile: nonEmpty, keyFile: nonEmpty, ...tlsCa }), z.object({ certPem: nonEmpty, keyPem: nonEmpty, ...tlsCa })], {
    error: 'must be { certFile, keyFile } or { certPem, keyPem }, with an optional ca ({ file } or { pem })',
  })
  .transform((value): { keyPair: KeyPairSource; ca?: CaSource } => {
    const keyPair: KeyPairSource = 'certFile' in value ? { certFile: value.certFile, keyFile: value.keyFile } : { certPem: value.certPem, keyPem: value.keyPem };
    const ca = value.ca ?? (value.caFile === undefined ? undefined : { file: value.caFile });
    return { keyPair, ...(ca ? { ca } : {}) };
  });

const authenticator = z.custom<Authenticator>(
  (value) => typeof (value as Authenticator | null)?.authenticate === 'function' && typeof (value as Authenticator).challenge === 'function',
  { error: 'must be an Authenticator (authenticate() and challenge())' },
);

const plainObject = (what: string) =>
  z.custom<object>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), { error: `must be ${what}` });

const jwt = z.custom<JwtOptions>(
  (value) => typeof value === 'object' && value !== null && 'issuer' in value && 'audience' in value,
  { error: 'must be { issuer, audience, jwksUrl | publicKey | jwks | secret }' },
);

const clientCertificates = z
  .custom<ClientCertificateOptions>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
    error: 'must be { caFile } or { ca }',
  })
  .refine((value) => (value.ca === undefined) !== (value.caFile === undefined), { error: 'needs exactly one of ca (PEM) or caFile' })
  .refine((value) => value.ca === undefined || typeof value.ca === 'string' || caSourceSchema.safeParse(value.ca).success, {
    error: 'ca must be PEM text, { pem } or { file }',
  })
  .transform(({ ca, caFile, ...rest }) => ({ ...rest, ca: toCaSource(ca ?? { caFile: caFile! }) }));

const requirement = z.custom<AccessRequirement>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
  error: 'must be { scopes?, principals?, groups?, kinds? }',
});

const consul = z.union([
  z.literal(false),
  z.instanceof(ConsulClient),
  z.custom<ConsulClientOptions>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
    error: 'must be a ConsulClient, ConsulClientOptions or false',
  }),
]);

// Consul's own limits on service meta: key charset and length, value length.
const metaKey = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,128}$/, { error: 'keys must be 1-128 letters, digits, _ or -' })
  .refine((key) => !key.startsWith('consul-'), { error: 'keys starting with consul- are reserved by Consul' })
  .refine((key) => !(RESERVED_META_KEYS as readonly string[]).includes(key), {
    error: `keys ${RESERVED_META_KEYS.join(', ')} are set by Farol`,
  });

const port = z.number({ error: 'must be 0-65535' }).int({ error: 'must be 0-65535' }).min(0, { error: 'must be 0-65535' }).max(65535, { error: 'must be 0-65535' });
const timeoutMs = z
  .number({ error: 'must be 100-3600000 (milliseconds)' })
  .int({ error: 'must be 100-3600000 (milliseconds)' })
  .min(100, { error: 'must be 100-3600000 (milliseconds)' })
  .max(3_600_000, { error: 'must be 100-3600000 (milliseconds)' });

const serviceName = z
  .string()
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, {
    error: "must be a DNS label: letters, digits and '-', 1-63 characters",
  });
const loginLimits = z.union([z.literal(false), plainObject('attempt limiter options or false')]);
const checkOptions = z
  .strictObject({
    kind: z.enum(['https', 'ttl'], { error: "must be 'https' or 'ttl'" }).optional(),
    interval: goDuration(true).default('10s'),
    timeout: goDuration(false).default('5s'),
    deregisterCriticalAfter: goDuration(false).default('1m'),
    ttl: goDuration(true).default('15s'),
    path: z
      .string()
      .max(256, { error: 'must be at most 256 characters' })
      .regex(/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/, { error: "must be an absolute URL path without a query, like '/health' or '/_farol/health'" })
      .default(HEALTH_PATH),
  })
  .prefault({});
const drainOptions = z
  .strictObject({
    delayMs: milliseconds(MAX_DRAIN_DELAY_MS).default(DEFAULT_DRAIN_DELAY_MS),
    timeoutMs: milliseconds(MAX_DRAIN_TIMEOUT_MS).default(DEFAULT_DRAIN_TIMEOUT_MS),
  })
  .prefault({});
const keepRegisteredOptions = z
  .strictObject({ intervalMs: milliseconds(3_600_000).default(DEFAULT_KEEP_REGISTERED_INTERVAL_MS) })
  .prefault({});
const tags = z.array(nonEmpty).default([]);
const meta = z
  .record(metaKey, z.string().max(512, { error: 'values must be at most 512 characters' }))
  .refine((meta) => Object.keys(meta).length <= 62, { error: 'at most 62 entries' })
  .default({});
const logger = z.custom<Logger>((value) => typeof (value as Logger | null)?.info === 'function' && typeof (value as Logger).child === 'function', {
  error: 'must be a pino Logger',
});
const metrics = z.custom<boolean | Registry>((value) => typeof value === 'boolean' || typeof (value as Registry | null)?.metrics === 'function', {
  error: 'must be true, false or a prom-client Registry',
});

/** How callers authenticate: shared by createService, the fastify plugin and createRequestAuth. */
const authFields = {
  usersFile: nonEmpty.optional(),
  authenticators: z.array(authenticator).min(1, { error: 'must hold at least one authenticator' }).optional(),
  jwt: jwt.optional(),
  clientCertificates: clientCertificates.optional(),
  loginLimits: loginLimits.optional(),
  require: requirement.optional(),
};
const NO_WAY_IN = 'no way to authenticate callers: give usersFile, jwt, clientCertificates or authenticators';
const hasWayIn = (opts: { usersFile?: unknown; jwt?: unknown; clientCertificates?: unknown; authenticators?: unknown }): boolean =>
  opts.usersFile !== undefined || opts.jwt !== undefined || opts.clientCertificates !== undefined || opts.authenticators !== undefined;

const schema = z
  .strictObject({
    name: serviceName,
    port: port.default(DEFAULT_PORT),
    bind: nonEmpty.default(DEFAULT_BIND),
    advertiseAddress: nonEmpty.optional(),
    tls,
    ...authFields,
    consul: consul.optional(),
    tags,
    meta,
    check: checkOptions,
    health: z.strictObject({ port: port.default(0) }).prefault({}),
    timeouts: z
      .strictObject({
        handshakeMs: timeoutMs.default(DEFAULT_HANDSHAKE_TIMEOUT_MS),
        headersMs: timeoutMs.default(DEFAULT_HEADERS_TIMEOUT_MS),
      })
      .prefault({}),
    drain: drainOptions,
    keepRegistered: keepRegisteredOptions,
    logFile: nonEmpty.optional(),
    logger: logger.optional(),
    routes: z
      .custom<NonNullable<ServiceOptions['routes']>>((value) => typeof value === 'function', { error: 'must be a function' })
      .optional(),
    metrics: metrics.optional(),
    tracing: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .refine(hasWayIn, { error: NO_WAY_IN, path: ['usersFile'] });

/** The options of createRequestAuth (and the plugin's `auth`): a realm and at least one way in. */
const authSchema = z
  .strictObject({ realm: serviceName, ...authFields })
  .refine(hasWayIn, { error: NO_WAY_IN, path: ['usersFile'] });

/** The options of createRegistration (and the plugin's registration part). */
const registrationSchema = z.strictObject({
  service: z.strictObject({
    name: serviceName,
    address: nonEmpty.optional(),
    instanceId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, { error: 'must be 1-128 letters, digits, _ . : or -' }).optional(),
    tags,
    meta,
  }),
  consul: consul.optional(),
  check: checkOptions,
  drain: drainOptions,
  keepRegistered: keepRegisteredOptions,
  certificate: z.union([nonEmpty, z.custom<() => string>((value) => typeof value === 'function')], { error: 'must be PEM text or a function returning it' }).optional(),
});

export type ResolvedServiceOptions = z.output<typeof schema> & { advertiseAddress: string };

const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '[::]', '::ffff:0.0.0.0']);

/** The first issue of a failed parse as CONFIG_INVALID naming the option. */
function configInvalid(error: z.ZodError, what: string, hint: string): FarolError {
  const issue = error.issues[0]!;
  const unknown = issue.code === 'unrecognized_keys' ? issue.keys : undefined;
  const field = [...issue.path, ...(unknown ? [unknown[0]] : [])].map(String).join('.') || 'options';
  // A record key's own rule is nested one level down.
  const keyIssue = issue.code === 'invalid_key' ? issue.issues[0] : undefined;
  const message = unknown ? 'unknown option' : (keyIssue?.message ?? issue.message);
  return new FarolError('CONFIG_INVALID', `invalid ${what} option ${field}: ${message}`, { hint });
}

/** Validates and fills in defaults; a bad value becomes CONFIG_INVALID naming the option. */
export function resolveServiceOptions(input: ServiceOptions): ResolvedServiceOptions {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw configInvalid(parsed.error, 'service', 'check the options passed to createService (or the matching farol serve flag)');
  }
  const opts = parsed.data;
  if (opts.require !== undefined) opts.require = accessRequirement(opts.require);
  const advertiseAddress = opts.advertiseAddress ?? (WILDCARD_ADDRESSES.has(opts.bind) ? '127.0.0.1' : opts.bind);
  return { ...opts, advertiseAddress };
}

/** How callers authenticate (createRequestAuth, the plugin's `auth`). `realm`: the service name, in Basic and Bearer challenges. */
export interface AuthOptions {
  realm: string;
  usersFile?: string;
  jwt?: JwtOptions;
  clientCertificates?: ClientCertificateOptions;
  authenticators?: Authenticator[];
  loginLimits?: AttemptLimiterOptions | false;
  require?: AccessRequirement;
}
export type ResolvedAuthOptions = z.output<typeof authSchema>;

export function resolveAuthOptions(input: AuthOptions, what = 'auth'): ResolvedAuthOptions {
  const parsed = authSchema.safeParse(input);
  if (!parsed.success) throw configInvalid(parsed.error, what, 'check the auth options (usersFile, jwt, clientCertificates, authenticators, require)');
  const opts = parsed.data;
  if (opts.require !== undefined) opts.require = accessRequirement(opts.require);
  return opts;
}

/**
 * An instance's life in Consul (createRegistration, and the plugin's registration part).
 * `service.address`: the address registered (default: the address the server is bound to, or
 * 127.0.0.1 for a wildcard). `certificate`: the served certificate (PEM), from which the HTTPS
 * check's TLSServerName is decided (or TTL when Consul could not verify it); without it the
 * check verifies the registered address.
 */
export interface RegistrationOptions {
  service: { name: string; address?: string; instanceId?: string; tags?: string[]; meta?: Record<string, string> };
  consul?: ConsulClient | ConsulClientOptions | false;
  check?: ServiceOptions['check'];
  drain?: ServiceOptions['drain'];
  keepRegistered?: ServiceOptions['keepRegistered'];
  certificate?: string | (() => string);
}
export type ResolvedRegistrationOptions = z.output<typeof registrationSchema>;

export function resolveRegistrationOptions(input: RegistrationOptions, what = 'registration'): ResolvedRegistrationOptions {
  const parsed = registrationSchema.safeParse(input);
  if (!parsed.success) throw configInvalid(parsed.error, what, 'check the registration options (service, consul, check, drain, keepRegistered)');
  return parsed.data;
}

/** The address registered for a server bound to `bind`. */
export function advertisedAddressFor(bind: string): string {
  return WILDCARD_ADDRESSES.has(bind) ? '127.0.0.1' : bind;
}
