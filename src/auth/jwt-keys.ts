import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors as joseErrors,
  type FetchImplementation,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { FarolError } from '../errors.js';
import { clampTimerDelay } from '../timers/long-timeout.js';
import { loadCaSourceSync, toCaSource, type CaSource } from '../pki/index.js';

/** The algorithms accepted when none are configured (asymmetric keys). */
export const DEFAULT_JWT_ALGORITHMS: readonly string[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];
/** Defaults of the remote key set, as jose's own. */
export const DEFAULT_JWKS_COOLDOWN_MS = 30_000;
export const DEFAULT_JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000;
/** A JWKS document larger than this is refused unread: real ones are a few kilobytes. */
export const MAX_JWKS_BYTES = 1024 * 1024;
/** A failed fetch is not retried sooner than this (nor sooner than the cooldown, if that is shorter). */
const FAILED_FETCH_BACKOFF_MS = 5_000;

const ASYMMETRIC_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
/** Per RFC 7518 section 3.2 an HMAC key is at least as long as the hash output. */
const HMAC_MIN_SECRET_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 };
const EC_ALGORITHM_BY_CURVE: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/** The signing keys of a remote issuer, fetched over verified HTTPS. */
export interface RemoteJwksOptions {
  /** The issuer's JWKS endpoint (its `jwks_uri`); https only. */
  jwksUrl: string | URL;
  /**
   * The CA(s) that issued the JWKS server's certificate: a CaSource ({ pem } or { file }, read once
   * at creation) or PEM text. Default: the system CAs.
   */
  ca?: CaSource | string | string[];
  /** After a successful fetch, how long a token with an unknown `kid` waits before it may cause another. Default 30 s. */
  jwksCooldownMs?: number;
  /** How long fetched keys are used before they are fetched again. Default 10 minutes. */
  jwksCacheMaxAgeMs?: number;
  /** Timeout of one fetch. Default 5 s. */
  jwksTimeoutMs?: number;
  /** Told about each failed fetch (unreachable, untrusted certificate, not a JWKS), e.g. to log it. Tokens meanwhile get 'signing keys unavailable'. */
  onKeysError?: (error: Error) => void;
}

/** One public key: PEM (SPKI, PKCS#1, or a private key it is derived from), a public JWK, or a KeyObject. */
export interface PublicKeyOptions {
  publicKey: string | JWK | KeyObject;
}

/**
 * A fixed JSON Web Key Set, keys chosen by `kid` and `alg` as for a remote one. A token without a
 * kid that several keys fit is refused ('ambiguous signing key'), for a remote set too.
 */
export interface LocalJwksOptions {
  jwks: JSONWebKeySet;
}

/** A shared HMAC secret: only HS256/384/512, at least as many bytes as the hash (32 for HS256). */
export interface SecretOptions {
  secret: string | Uint8Array;
}

type KeySourceField = 'jwksUrl' | 'publicKey' | 'jwks' | 'secret';
type Only<T, K extends KeySourceField> = T & { [F in Exclude<KeySourceField, K>]?: never };

/** Exactly one key source. */
export type JwtKeyOptions =
  | Only<RemoteJwksOptions, 'jwksUrl'>
  | Only<PublicKeyOptions, 'publicKey'>
  | Only<LocalJwksOptions, 'jwks'>
  | Only<SecretOptions, 'secret'>;

/** What the authenticator verifies with. */
export interface JwtKeys {
  key: KeyObject | Uint8Array | JWTVerifyGetKey;
  /** The allow-list, checked against the key source. */
  algorithms: string[];
  /** Releases the remote key set's connections; nothing for a local key. */
  close(): Promise<void>;
}

/**
 * Thrown by the key resolver when no key can be had for reasons that are not the token's: the
 * JWKS could not be fetched or is not a key set, or the key that matched cannot be used.
 */
export class SigningKeysUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SigningKeysUnavailableError';
  }
}

function invalid(message: string, hint: string): FarolError {
  return new FarolError('CONFIG_INVALID', message, { hint });
}

function checkDuration(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw invalid(`invalid JWT option ${name}: ${String(value)}`, `give ${name} as a non-negative number of milliseconds`);
  return value;
}

/**
 * The allow-list, refused when it could be abused: 'none' never; HMAC only with a shared secret
 * and then only HMAC, so that a public key can never be taken for a secret (key confusion).
 */
function checkAlgorithms(requested: readonly string[] | undefined, symmetric: boolean): string[] {
  const algorithms = [...(requested ?? (symmetric ? ['HS256'] : DEFAULT_JWT_ALGORITHMS))];
  if (algorithms.length === 0) throw invalid('the JWT algorithm list is empty', 'list the algorithms your issuer signs with, e.g. RS256 or ES256');
  for (const alg of algorithms) {
    if (typeof alg !== 'string' || alg.toLowerCase() === 'none') {
      throw invalid('the JWT algorithm "none" (unsigned tokens) is never accepted', 'list the algorithms your issuer signs with, e.g. RS256 or ES256');
    }
    const hmac = alg in HMAC_MIN_SECRET_BYTES;
    if (hmac && !symmetric) {
      throw invalid(`the JWT algorithm ${alg} needs a shared secret, and the configured key is a public key`, 'configure `secret` for HMAC tokens; a public key is never used as an HMAC secret');
    }
    if (!hmac && symmetric) {
      throw invalid(`the JWT algorithm ${alg} cannot be verified with a shared secret`, 'with `secret` allow only HS256, HS384 or HS512; asymmetric and symmetric keys are never mixed');
    }
    if (!hmac && !ASYMMETRIC_ALGORITHMS.has(alg)) {
      throw invalid(`unknown JWT algorithm ${JSON.stringify(alg)}`, `use some of ${[...ASYMMETRIC_ALGORITHMS].join(', ')}`);
    }
  }
  return [...new Set(algorithms)];
}

function secretKey(secret: string | Uint8Array, algorithms: string[]): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : new Uint8Array(secret);
  const needed = Math.max(...algorithms.map((alg) => HMAC_MIN_SECRET_BYTES[alg] ?? 0));
  if (bytes.length < needed) {
    throw invalid(`the JWT secret has ${bytes.length} bytes; ${algorithms.join('/')} needs at least ${needed}`, 'use a random secret of at least 32 bytes (e.g. openssl rand -base64 32)');
  }
  return bytes;
}

function publicKeyObject(input: string | JWK | KeyObject): KeyObject {
  const isKeyObject = typeof input === 'object' && input !== null && (input as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'KeyObject';
  if (isKeyObject && (input as KeyObject).type === 'secret') {
    throw invalid('the JWT publicKey is a secret key', 'give the issuer\'s public key, or configure `secret` for HMAC tokens');
  }
  if (!isKeyObject && typeof input === 'object' && (input as JWK).kty === 'oct') {
    throw invalid('the JWT publicKey is a symmetric JWK (kty "oct")', 'give the issuer\'s public key, or configure `secret` for HMAC tokens');
  }
  try {
    if (isKeyObject) return (input as KeyObject).type === 'public' ? (input as KeyObject) : createPublicKey(input as KeyObject);
    if (typeof input === 'string') return createPublicKey(input);
    return createPublicKey({ key: input as JsonWebKey, format: 'jwk' });
  } catch (cause) {
    throw new FarolError('CONFIG_INVALID', 'the JWT publicKey cannot be read as a public key', {
      hint: 'give a PEM public key ("-----BEGIN PUBLIC KEY-----"), a public JWK, or a KeyObject',
      cause,
    });
  }
}

/** The algorithms that can verify with `key`. */
function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048) throw invalid(`the JWT publicKey is a ${bits}-bit RSA key`, 'RSA keys for JWT must be at least 2048 bits (RFC 7518)');
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    }
    case 'ec': {
      const alg = EC_ALGORITHM_BY_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (alg !== undefined) return [alg];
      break;
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
  }
  throw invalid(`the JWT publicKey is of a kind JWT verification does not support (${String(key.asymmetricKeyType)})`, 'use an RSA (2048 bits or more), EC P-256/P-384/P-521 or Ed25519 key');
}

/** The default list narrowed to the key; an explicit list must fit it entirely. */
function fitToKey(algorithms: string[], key: KeyObject, explicit: boolean): string[] {
  const usable = algorithmsFor(key);
  const unusable = algorithms.filter((alg) => !usable.includes(alg));
  if (explicit && unusable.length > 0) {
    throw invalid(`the JWT algorithm(s) ${unusable.join(', ')} cannot verify with the configured ${key.asymmetricKeyType} key`, `allow only ${usable.join(', ')} for this key`);
  }
  const fitting = algorithms.filter((alg) => usable.includes(alg));
  if (fitting.length === 0) {
    throw invalid(`none of the JWT algorithms ${algorithms.join(', ')} can verify with the configured ${key.asymmetricKeyType} key`, `allow ${usable.join(' or ')}`);
  }
  return fitting;
}

function isJwkSet(value: unknown): value is JSONWebKeySet {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { keys } = value as { keys?: unknown };
  return Array.isArray(keys) && keys.every((key) => typeof key === 'object' && key !== null && !Array.isArray(key));
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return code === undefined ? message : `${message} (${code})`;
}

async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<string | undefined> {
  if (body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * jose's fetch for the key set, over an undici Agent that verifies the server against `ca`. It
 * checks the answer fully (200, at most MAX_JWKS_BYTES, JSON, a key set) so that every failure
 * is seen here: it is reported once, and the next fetch waits out a backoff instead of every
 * request hitting an issuer that is down.
 */
function jwksFetcher(agent: Agent, backoffMs: number, onKeysError: ((error: Error) => void) | undefined): FetchImplementation {
  let failedAt = -Infinity;
  const fail = (message: string, cause?: unknown): never => {
    failedAt = performance.now();
    const error = new SigningKeysUnavailableError(message, cause === undefined ? undefined : { cause });
    try {
      onKeysError?.(error);
    } catch {
      // A throwing listener must not turn a refused token into a crash.
    }
    throw error;
  };
  return async (url, init) => {
    if (performance.now() - failedAt < backoffMs) {
      throw new SigningKeysUnavailableError(`the JWKS fetch from ${url} failed moments ago; not retrying yet`);
    }
    let text: string | undefined;
    let status: number;
    try {
      const response = await undiciFetch(url, { method: init.method, redirect: init.redirect, signal: init.signal, headers: [...init.headers], dispatcher: agent });
      status = response.status;
      if (status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        return fail(`the JWKS server at ${url} answered HTTP ${status}`);
      }
      text = await readLimited(response.body as ReadableStream<Uint8Array> | null, MAX_JWKS_BYTES);
    } catch (error) {
      return fail(`fetching the JWKS from ${url} failed: ${describe(error)}`, error);
    }
    if (text === undefined) return fail(`the JWKS at ${url} is larger than ${MAX_JWKS_BYTES} bytes`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return fail(`the JWKS at ${url} is not JSON`, error);
    }
    if (!isJwkSet(json)) return fail(`the document at ${url} is not a JSON Web Key Set (no "keys" array of objects)`);
    failedAt = -Infinity;
    return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

/**
 * Errors of key selection stay as they are (jose retries on several matching keys, and an
 * unknown kid is the token's fault); anything else the resolver throws is about the keys.
 */
function guardResolver(resolve: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await resolve(header, token);
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
      if (error instanceof SigningKeysUnavailableError) throw error;
      throw new SigningKeysUnavailableError('the signing key that matched the token cannot be used', { cause: error });
    }
  };
}

function remoteKeys(opts: RemoteJwksOptions, algorithms: string[]): JwtKeys {
  let url: URL;
  try {
    url = new URL(opts.jwksUrl);
  } catch (cause) {
    throw new FarolError('CONFIG_INVALID', `the JWKS URL ${JSON.stringify(String(opts.jwksUrl))} is not a URL`, { hint: 'give the issuer\'s jwks_uri, e.g. https://issuer.example/.well-known/jwks.json', cause });
  }
  if (url.protocol !== 'https:') {
    throw invalid(`the JWKS URL ${url.href} is not https`, 'signing keys must come over verified TLS: use the issuer\'s https jwks_uri (pass `ca` for a private CA)');
  }
  const cooldownMs = checkDuration('jwksCooldownMs', opts.jwksCooldownMs, DEFAULT_JWKS_COOLDOWN_MS);
  const cacheMaxAgeMs = checkDuration('jwksCacheMaxAgeMs', opts.jwksCacheMaxAgeMs, DEFAULT_JWKS_CACHE_MAX_AGE_MS);
  // Clamped to 2^31-1 ms: jose's fetch timer would fire after 1 ms beyond that.
  const timeoutMs = Math.round(clampTimerDelay(checkDuration('jwksTimeoutMs', opts.jwksTimeoutMs, DEFAULT_JWKS_TIMEOUT_MS)));
  const ca = opts.ca === undefined ? undefined : loadCaSourceSync(toCaSource(opts.ca)).pem;
  const agent = new Agent({ connect: { minVersion: 'TLSv1.2', ...(ca === undefined ? {} : { ca }) } });
  const remote = createRemoteJWKSet(url, {
    cooldownDuration: cooldownMs,
    cacheMaxAge: cacheMaxAgeMs,
    timeoutDuration: timeoutMs,
    [customFetch]: jwksFetcher(agent, Math.min(cooldownMs, FAILED_FETCH_BACKOFF_MS), opts.onKeysError),
  });
  return { key: guardResolver(remote), algorithms, close: () => agent.close() };
}

/**
 * The key source and allow-list of a JWT authenticator, checked at creation: exactly one
 * source; https only for a remote set; no 'none'; HMAC only with a secret long enough; a single
 * public key narrows the default list to what it can verify. Throws CONFIG_INVALID otherwise.
 */
export function createJwtKeys(opts: JwtKeyOptions, requestedAlgorithms?: readonly string[]): JwtKeys {
  const sources = (['jwksUrl', 'publicKey', 'jwks', 'secret'] as const).filter((field) => opts[field] !== undefined);
  if (sources.length !== 1) {
    throw invalid(
      sources.length === 0 ? 'no JWT key source is configured' : `more than one JWT key source is configured (${sources.join(', ')})`,
      'configure exactly one of jwksUrl (with ca), publicKey, jwks or secret',
    );
  }
  const remoteOnly = (['ca', 'jwksCooldownMs', 'jwksCacheMaxAgeMs', 'jwksTimeoutMs', 'onKeysError'] as const).filter(
    (field) => (opts as Partial<RemoteJwksOptions>)[field] !== undefined,
  );
  if (opts.jwksUrl === undefined && remoteOnly.length > 0) {
    throw invalid(`${remoteOnly.join(', ')} only apply to a remote key set, and no jwksUrl is configured`, 'give jwksUrl, or drop those options');
  }
  const none = async (): Promise<void> => undefined;
  if (opts.secret !== undefined) {
    const algorithms = checkAlgorithms(requestedAlgorithms, true);
    return { key: secretKey(opts.secret, algorithms), algorithms, close: none };
  }
  const algorithms = checkAlgorithms(requestedAlgorithms, false);
  if (opts.jwksUrl !== undefined) return remoteKeys(opts, algorithms);
  if (opts.publicKey !== undefined) {
    const key = publicKeyObject(opts.publicKey);
    return { key, algorithms: fitToKey(algorithms, key, requestedAlgorithms !== undefined), close: none };
  }
  let local: JWTVerifyGetKey;
  try {
    local = createLocalJWKSet(opts.jwks as JSONWebKeySet);
  } catch (cause) {
    throw new FarolError('CONFIG_INVALID', 'the configured JWKS is not a JSON Web Key Set', { hint: 'give an object with a "keys" array of public JWKs', cause });
  }
  return { key: guardResolver(local), algorithms, close: none };
}
