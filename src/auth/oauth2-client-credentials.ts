import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { FarolError, type ErrorCode } from '../errors.js';
import { CONNECTION_FAILURES, errorCode, TIMEOUT_CODES, UNTRUSTED_CERTIFICATE } from '../net-errors.js';
import { channels, type EventOwner } from '../events/channels.js';
import { componentEvents } from '../events/owner.js';
import type { Logger } from '../log/logger.js';
import { MAX_TIMER_DELAY_MS } from '../timers/long-timeout.js';
import { loadCaSourceSync, toCaSource, type CaSource } from '../pki/index.js';
import type { CredentialProvider } from './credentials.js';
import { parseJson, parseOAuthError, parseTokenResponse, printable, tokenSchedule, type OAuthErrorResponse } from './token-response.js';

export const DEFAULT_REFRESH_SKEW_SEC = 30;
export const DEFAULT_TOKEN_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_FAILURE_BACKOFF_MS = 500;
export const DEFAULT_MAX_FAILURE_BACKOFF_MS = 10_000;

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

export interface OAuth2ClientCredentialsOptions {
  /** The token endpoint. Give this or `issuer`. */
  tokenEndpoint?: string;
  /**
   * The authorization server's issuer identifier: its token endpoint is discovered from
   * `${issuer}/.well-known/openid-configuration` (else RFC 8414's oauth-authorization-server
   * document), and the document must name exactly this issuer.
   */
  issuer?: string;
  clientId: string;
  /** Never logged, never part of an error. */
  clientSecret: string;
  /** Scopes to ask for: a space-separated string or a list. Default: none (the server's default). */
  scope?: string | readonly string[];
  /** The service the token is for, sent as the RFC 8707 `resource` parameter (becomes the token's `aud`). */
  resource?: string;
  /** Another name for `resource`. */
  audience?: string;
  /** How the client authenticates at the token endpoint. Default 'client_secret_basic'. */
  authMethod?: ClientAuthMethod;
  /**
   * The CA(s) to trust for the authorization server's certificate, instead of the system's: a
   * CaSource ({ pem } or { file }, read once here) or PEM text. Verification is always on.
   */
  ca?: CaSource | string;
  /** Fetch a new token this long before the current one expires, but never before half its lifetime. Default 30. */
  refreshSkewSec?: number;
  /** Per request to the authorization server (connect, headers, body). Default 10000. */
  timeoutMs?: number;
  /** After a failed token request, callers without a valid token fail fast for this long (doubling per failure). Default 500. */
  failureBackoffMs?: number;
  /** The ceiling of that doubling. Default 10000. */
  maxFailureBackoffMs?: number;
  /** The clock, ms since the epoch (tests pass their own). Default Date.now. */
  now?: () => number;
  /** Token fetches and their failures are logged here (never a token or the secret). */
  logger?: Logger;
  /** Publish the token events under this owner instead (a client's: its logger writes the lines). */
  events?: EventOwner;
}

/** A CredentialProvider that gets, caches and refreshes OAuth2 access tokens (client credentials grant, RFC 6749 §4.4). */
export interface OAuth2ClientCredentials extends CredentialProvider {
  /** "Bearer <access token>", fetched when none is cached or the cached one is due for refresh. */
  authorization(): Promise<string>;
  /** Drops the cached token if it is the rejected one (a 401 for an older token keeps the newer). */
  invalidate(rejected: string): void;
  /** Closes the connections to the authorization server. */
  close(): Promise<void>;
}

interface CachedToken {
  header: string;
  expiresAt: number;
  refreshAt: number;
}

interface Failure {
  error: FarolError;
  retryAt: number;
  count: number;
}

interface HttpAnswer {
  status: number;
  text: string;
}

/**
 * Access tokens by the client credentials grant. One token is cached and shared; it is replaced
 * `refreshSkewSec` before it expires, and callers arriving while a token request is in flight wait
 * for that same request. A failed request is not remembered as a token: callers get a FarolError,
 * or the cached token while it has not expired yet; the next request is made after a short backoff.
 */
export function oauth2ClientCredentials(opts: OAuth2ClientCredentialsOptions): OAuth2ClientCredentials {
  const config = checkOptions(opts);
  const now = opts.now ?? Date.now;
  const redact = redactor(opts.clientSecret);
  const dispatcher = new Agent({
    connect: { ...(config.ca === undefined ? {} : { ca: config.ca }), minVersion: 'TLSv1.2', timeout: config.timeoutMs },
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
  });

  let tokenEndpoint: string | undefined = config.tokenEndpoint;
  let cached: CachedToken | undefined;
  let inflight: Promise<CachedToken> | undefined;
  let failure: Failure | undefined;
  let closed = false;
  const events = componentEvents('client', opts.clientId, opts);

  async function send(url: string, init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string }): Promise<HttpAnswer> {
    try {
      const response = await request(url, { ...init, dispatcher, signal: AbortSignal.timeout(config.timeoutMs) });
      return { status: response.statusCode, text: await response.body.text() };
    } catch (error) {
      throw transportError(error, url, config.timeoutMs, redact);
    }
  }

  async function discoverTokenEndpoint(issuer: string): Promise<string> {
    const tried: string[] = [];
    for (const url of discoveryUrls(issuer)) {
      const answer = await send(url, { method: 'GET', headers: { accept: 'application/json' } });
      if (answer.status === 404) {
        tried.push(url);
        continue;
      }
      if (answer.status !== 200) {
        throw new FarolError('REQUEST_FAILED', `the authorization server's discovery document at ${url} answered HTTP ${answer.status}`, {
          hint: 'check the issuer URL, or pass tokenEndpoint instead of issuer',
          details: { url, status: answer.status },
        });
      }
      const json = parseJson(answer.text);
      const document = json.ok && typeof json.value === 'object' && json.value !== null ? (json.value as Record<string, unknown>) : undefined;
      if (!document) {
        throw new FarolError('REQUEST_FAILED', `the discovery document at ${url} is not JSON`, {
          hint: 'check that the issuer is the URL of an OAuth2 / OpenID Connect server, or pass tokenEndpoint',
          details: { url },
        });
      }
      if (document.issuer !== issuer) {
        const named = typeof document.issuer === 'string' ? `'${printable(document.issuer, 200)}'` : 'no issuer';
        throw new FarolError('CONFIG_INVALID', `the discovery document at ${url} names ${named}, not the configured issuer '${issuer}'`, {
          hint: 'set issuer to exactly the value the authorization server uses (RFC 8414 §3.3); a mismatch can also mean the URL reaches another server',
          details: { url },
        });
      }
      if (typeof document.token_endpoint !== 'string') {
        throw new FarolError('REQUEST_FAILED', `the discovery document at ${url} names no token_endpoint`, {
          hint: 'pass tokenEndpoint explicitly',
          details: { url },
        });
      }
      return endpointUrl(document.token_endpoint, `the token_endpoint in ${url}`);
    }
    throw new FarolError('REQUEST_FAILED', `the authorization server has no discovery document (HTTP 404 at ${tried.join(' and ')})`, {
      hint: 'check the issuer URL, or pass tokenEndpoint instead of issuer',
      details: { tried },
    });
  }

  async function requestToken(): Promise<CachedToken> {
    tokenEndpoint ??= await discoverTokenEndpoint(config.issuer!);
    const endpoint = tokenEndpoint;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (config.scope !== undefined) form.set('scope', config.scope);
    if (config.resource !== undefined) form.set('resource', config.resource);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (config.authMethod === 'client_secret_post') {
      form.set('client_id', opts.clientId);
      form.set('client_secret', opts.clientSecret);
    } else {
      headers.authorization = clientSecretBasic(opts.clientId, opts.clientSecret);
    }

    const obtainedAt = now();
    const answer = await send(endpoint, { method: 'POST', headers, body: form.toString() });
    const json = parseJson(answer.text);
    const where = `the authorization server at ${new URL(endpoint).origin}`;
    const details = { tokenEndpoint: endpoint, status: answer.status, clientId: opts.clientId };

    if (answer.status !== 200) {
      const refusal = json.ok ? parseOAuthError(json.value) : undefined;
      if (refusal) throw refusalError(refusal, where, opts.clientId, config, details, redact);
      throw new FarolError('REQUEST_FAILED', `${where} answered HTTP ${answer.status} to the token request`, {
        hint:
          answer.status >= 500
            ? 'the authorization server may be starting or overloaded; the next call tries again'
            : 'check that tokenEndpoint (or issuer) is the token endpoint of an OAuth2 server',
        details,
      });
    }
    if (!json.ok) {
      throw new FarolError('REQUEST_FAILED', `${where} answered the token request with something other than JSON`, {
        hint: 'check that tokenEndpoint (or issuer) is the token endpoint of an OAuth2 server',
        details,
      });
    }
    const parsed = parseTokenResponse(json.value);
    if (!parsed.ok) {
      throw new FarolError('REQUEST_FAILED', `${where} answered with an unusable token response: ${parsed.problem}`, {
        hint: 'check that tokenEndpoint (or issuer) is the token endpoint of an OAuth2 server that issues Bearer tokens',
        details,
      });
    }
    const schedule = tokenSchedule(obtainedAt, parsed.grant.expiresInSec, config.refreshSkewSec);
    if (channels.oauth2Token.hasSubscribers) {
      channels.oauth2Token.publish({ owner: events.owner, tokenEndpoint: endpoint, clientId: opts.clientId, expiresInSec: parsed.grant.expiresInSec, scope: parsed.grant.scope });
    }
    return { header: `Bearer ${parsed.grant.accessToken}`, ...schedule };
  }

  function refresh(): Promise<CachedToken> {
    if (inflight) return inflight;
    if (failure && now() < failure.retryAt) return Promise.reject(failure.error);
    const attempt = requestToken().then(
      (token) => {
        if (!closed) cached = token;
        failure = undefined;
        return token;
      },
      (caught: unknown) => {
        const error = caught instanceof FarolError ? caught : unexpected(caught, redact);
        const count = (failure?.count ?? 0) + 1;
        const backoff = Math.min(config.maxFailureBackoffMs, config.failureBackoffMs * 2 ** (count - 1));
        failure = { error, count, retryAt: now() + backoff };
        if (channels.oauth2TokenFailed.hasSubscribers) {
          channels.oauth2TokenFailed.publish({ owner: events.owner, clientId: opts.clientId, error: { code: error.code, message: error.message }, failures: count, retryInMs: backoff });
        }
        throw error;
      },
    );
    inflight = attempt.finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  return {
    async authorization() {
      if (closed) throw new FarolError('ABORTED', 'this OAuth2 credential provider has been closed', { hint: 'create a new one' });
      const token = cached;
      if (token && now() < token.refreshAt) return token.header;
      try {
        return (await refresh()).header;
      } catch (error) {
        // The replacement could not be had, but the token in hand has not expired: use it meanwhile.
        const current = cached;
        if (current && now() < current.expiresAt) return current.header;
        throw error;
      }
    },
    invalidate(rejected) {
      if (cached && (rejected === cached.header || `Bearer ${rejected}` === cached.header)) cached = undefined;
    },
    async close() {
      if (closed) return;
      closed = true;
      events.close();
      cached = undefined;
      await dispatcher.close();
    },
  };
}

/** client_secret_basic (RFC 6749 §2.3.1): id and secret are form-urlencoded, then joined by ':' and base64-encoded. */
export function clientSecretBasic(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`, 'utf8').toString('base64')}`;
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** Where RFC 8414 and OpenID Connect Discovery put the metadata of `issuer`, in the order tried. */
export function discoveryUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  return [`${url.origin}${path}/.well-known/openid-configuration`, `${url.origin}/.well-known/oauth-authorization-server${path}`];
}

interface CheckedOptions {
  tokenEndpoint: string | undefined;
  issuer: string | undefined;
  scope: string | undefined;
  resource: string | undefined;
  authMethod: ClientAuthMethod;
  refreshSkewSec: number;
  timeoutMs: number;
  failureBackoffMs: number;
  maxFailureBackoffMs: number;
  /** The CA bundle as PEM, checked. */
  ca: string | undefined;
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function invalid(message: string, hint: string): FarolError {
  return new FarolError('CONFIG_INVALID', message, { hint });
}

function checkOptions(opts: OAuth2ClientCredentialsOptions): CheckedOptions {
  if ((opts.tokenEndpoint === undefined) === (opts.issuer === undefined)) {
    throw invalid('give the OAuth2 token endpoint or the issuer, exactly one of them', 'pass tokenEndpoint: "https://as.example/token", or issuer: "https://as.example" to discover it');
  }
  if (typeof opts.clientId !== 'string' || opts.clientId === '') {
    throw invalid('the OAuth2 clientId is empty', 'pass the client id the authorization server registered');
  }
  if (typeof opts.clientSecret !== 'string' || opts.clientSecret === '') {
    throw invalid('the OAuth2 clientSecret is empty', 'pass the client secret the authorization server registered (e.g. from an environment variable)');
  }
  const authMethod = opts.authMethod ?? 'client_secret_basic';
  if (authMethod !== 'client_secret_basic' && authMethod !== 'client_secret_post') {
    throw invalid(`unknown OAuth2 authMethod '${String(authMethod)}'`, "use 'client_secret_basic' or 'client_secret_post'");
  }
  if (typeof opts.ca === 'string' && !opts.ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw invalid('the ca option is not a PEM certificate', "pass the PEM text of the CA that signed the authorization server's certificate");
  }
  const ca = opts.ca === undefined ? undefined : loadCaSourceSync(toCaSource(opts.ca)).pem;
  if (opts.resource !== undefined && opts.audience !== undefined && opts.resource !== opts.audience) {
    throw invalid('resource and audience name two different services', 'they are the same parameter (RFC 8707 resource); pass one of them');
  }
  const resource = opts.resource ?? opts.audience;
  if (resource !== undefined) absoluteUri(resource, 'resource');
  return {
    tokenEndpoint: opts.tokenEndpoint === undefined ? undefined : endpointUrl(opts.tokenEndpoint, 'tokenEndpoint'),
    issuer: opts.issuer === undefined ? undefined : issuerUrl(opts.issuer),
    scope: scopeParameter(opts.scope),
    resource,
    authMethod,
    refreshSkewSec: nonNegative(opts.refreshSkewSec ?? DEFAULT_REFRESH_SKEW_SEC, 'refreshSkewSec', 'pass e.g. 30 (seconds)'),
    // At most 2^31-1 ms: AbortSignal.timeout() would fire after 1 ms beyond that.
    timeoutMs: positive(Math.min(opts.timeoutMs ?? DEFAULT_TOKEN_REQUEST_TIMEOUT_MS, MAX_TIMER_DELAY_MS), 'timeoutMs', 'pass e.g. 10000 (10 s)'),
    failureBackoffMs: nonNegative(opts.failureBackoffMs ?? DEFAULT_FAILURE_BACKOFF_MS, 'failureBackoffMs', 'pass e.g. 500'),
    maxFailureBackoffMs: nonNegative(opts.maxFailureBackoffMs ?? DEFAULT_MAX_FAILURE_BACKOFF_MS, 'maxFailureBackoffMs', 'pass e.g. 10000'),
    ca,
  };
}

function scopeParameter(scope: string | readonly string[] | undefined): string | undefined {
  if (scope === undefined) return undefined;
  const tokens = typeof scope === 'string' ? scope.split(/\s+/).filter((s) => s !== '') : [...scope];
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token)) {
      throw invalid(`the scope '${printable(token, 60)}' has characters a scope cannot contain`, 'a scope is printable ASCII without spaces, " or \\; pass several as a list or space-separated');
    }
  }
  return tokens.length === 0 ? undefined : [...new Set(tokens)].join(' ');
}

function parseUrl(value: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${name} is not a URL: '${printable(value, 200)}'`, 'pass an absolute URL such as https://auth.example.com/oauth2/token');
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid(`${name} must not carry credentials in the URL`, 'pass the client id and secret as clientId and clientSecret');
  }
  return url;
}

/** https, or plain http to a loopback address (a local development server; nothing leaves the machine). */
function endpointUrl(value: string, name: string): string {
  const url = parseUrl(value, name);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw invalid(`${name} must be an https URL, got '${url.protocol}'`, 'the client secret and tokens travel over it; use the https URL of the authorization server');
  }
  if (url.hash !== '') throw invalid(`${name} must not have a #fragment`, 'remove the part from # on');
  return url.href;
}

function issuerUrl(value: string): string {
  const url = new URL(endpointUrl(value, 'issuer'));
  if (url.search !== '') throw invalid('issuer must not have a query', 'an issuer identifier is scheme, host and optional path (RFC 8414 §2)');
  // Compared with the discovery document as given, so keep the user's spelling (new URL adds a trailing slash).
  return value;
}

function absoluteUri(value: string, name: string): void {
  const url = parseUrl(value, name);
  if (url.hash !== '') throw invalid(`${name} must not have a #fragment (RFC 8707)`, 'pass the base URI of the service, e.g. https://orders.service.consul');
}

function positive(value: number, name: string, hint: string): number {
  if (!Number.isFinite(value) || value <= 0) throw invalid(`${name} must be a positive number, got ${String(value)}`, hint);
  return value;
}

function nonNegative(value: number, name: string, hint: string): number {
  if (!Number.isFinite(value) || value < 0) throw invalid(`${name} must be zero or a positive number, got ${String(value)}`, hint);
  return value;
}

/** Removes the secret from text that came from elsewhere (an error description, an error message), in any encoding it was sent in. */
function redactor(secret: string): (text: string) => string {
  const forms = [...new Set([secret, formEncode(secret), encodeURIComponent(secret), Buffer.from(secret, 'utf8').toString('base64')])]
    .filter((form) => form.length >= 4)
    .sort((a, b) => b.length - a.length);
  return (text) => forms.reduce((clean, form) => clean.split(form).join('[redacted]'), text);
}

function refusalError(
  refusal: OAuthErrorResponse,
  where: string,
  clientId: string,
  config: CheckedOptions,
  details: Record<string, unknown>,
  redact: (text: string) => string,
): FarolError {
  const because = `${refusal.error}${refusal.description ? ` (${redact(refusal.description)})` : ''}`;
  const facts = { ...details, oauthError: refusal.error };
  const refuse = (what: string, hint: string) => new FarolError('AUTH_REJECTED', `${where} ${what}: ${because}`, { hint, details: facts });
  switch (refusal.error) {
    case 'invalid_client':
      return refuse(
        `refused the client credentials of '${clientId}'`,
        `check the client id and secret, and that the client is registered for ${config.authMethod} (authMethod)`,
      );
    case 'unauthorized_client':
      return refuse(`does not allow client '${clientId}' the client_credentials grant`, 'allow the client_credentials grant for this client at the authorization server');
    case 'invalid_scope':
      return refuse(`refused the requested scope '${config.scope ?? ''}'`, 'ask only for scopes the client is allowed (scope option)');
    case 'invalid_target':
      return refuse(`refused the requested resource '${config.resource ?? ''}'`, 'check the resource/audience option against the resource servers the authorization server knows');
    case 'unsupported_grant_type':
      return refuse('does not support the client_credentials grant', 'enable the client_credentials grant at the authorization server');
    default:
      return refuse('refused the token request', 'check the client configuration at the authorization server');
  }
}

const ABORT_CODES = new Set(['ABORT_ERR', 'UND_ERR_ABORTED']);

function transportError(error: unknown, url: string, timeoutMs: number, redact: (text: string) => string): FarolError {
  const { origin, host } = new URL(url);
  const code = errorCode(error);
  const isTimeout = (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) || (code !== undefined && (TIMEOUT_CODES.has(code) || ABORT_CODES.has(code)));
  const details = { url, cause: code };
  const make = (farolCode: ErrorCode, message: string, hint: string) => new FarolError(farolCode, message, { hint, cause: error, details });
  const tlsHint = "pass the PEM of the CA that signed the authorization server's certificate as the ca option";
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return make('TLS_UNTRUSTED', `the certificate of the authorization server at ${origin} does not name ${host}`, 'use the host name the certificate names in the URL, or reissue the certificate for this one');
  }
  if (code !== undefined && Object.hasOwn(UNTRUSTED_CERTIFICATE, code)) {
    return make('TLS_UNTRUSTED', `the certificate of the authorization server at ${origin} is not trusted: ${UNTRUSTED_CERTIFICATE[code]} (${code})`, tlsHint);
  }
  if (isTimeout) {
    return make('TIMEOUT', `the authorization server at ${origin} did not answer within ${timeoutMs} ms`, 'check that it is up, or raise timeoutMs');
  }
  if (code !== undefined && Object.hasOwn(CONNECTION_FAILURES, code)) {
    return make('REQUEST_FAILED', `could not reach the authorization server at ${origin}: ${CONNECTION_FAILURES[code]} (${code})`, 'check that the authorization server is running and that tokenEndpoint (or issuer) is right');
  }
  if (code !== undefined && (code.startsWith('ERR_SSL_') || code === 'EPROTO')) {
    return make('REQUEST_FAILED', `the TLS handshake with the authorization server at ${origin} failed (${code})`, 'check that the URL is its https port and that it speaks TLS 1.2 or newer');
  }
  const message = error instanceof Error ? error.message : String(error);
  return make('REQUEST_FAILED', printable(redact(`the request to the authorization server at ${origin} failed: ${message}${code ? ` (${code})` : ''}`), 400), 'check that the authorization server is running and reachable');
}

function unexpected(error: unknown, redact: (text: string) => string): FarolError {
  const message = error instanceof Error ? error.message : String(error);
  return new FarolError('REQUEST_FAILED', printable(redact(`could not get an access token: ${message}`), 400), { hint: 'run again with --debug for details' });
}
