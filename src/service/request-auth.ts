/**
 * Authentication of one HTTP request, for any Node server: the credentials it carries (an
 * Authorization header, a TLS client certificate) become a principal, or an answer to send
 * (401, 403, 429, or 400 for a malformed header) with its headers. The fastify plugin runs it in
 * its onRequest hook; a node:http / node:https handler or an express middleware calls
 * authenticateRequest(req) itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  authenticate,
  authorize,
  bearerChallenge,
  peerTlsOf,
  type AccessRequirement,
  type AuthResult,
  type Authenticator,
  type PeerTls,
  type Principal,
} from '../auth/index.js';
import { channels, createEventOwner, type EventOwner } from '../events/channels.js';
import { buildServiceAuth, type ServiceAuth } from './authenticators.js';
import { createConnectionAuth } from './connection-auth.js';
import { resolveAuthOptions, type AuthOptions } from './options.js';

/**
 * A route's own authentication and authorization, as fastify route config:
 * `app.get('/orders', { config: { auth: { require: { scopes: ['orders:read'] } } } }, handler)`;
 * from a plain handler, the second argument of authenticateRequest.
 */
export interface RouteAuth {
  /** No authentication at all (like GET /health). */
  public?: boolean;
  /** Replaces the service's authenticators on this route (e.g. certificates only). */
  authenticators?: Authenticator[];
  /** Must be met on top of the service-wide requirement. */
  require?: AccessRequirement;
}

export type AuthFailureStatus = 400 | 401 | 403 | 429;

/** What to answer a caller that is not let in: status, headers (WWW-Authenticate, Retry-After) and a JSON body. */
export interface AuthFailure {
  readonly ok: false;
  readonly status: AuthFailureStatus;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { readonly error: string; readonly message: string };
}

export type RequestAuthOutcome = { readonly ok: true; readonly principal: Principal } | AuthFailure;

/** What the auth events of a request say about it (see farol:auth:outcome); the plugin passes the request's own. */
export interface RequestEventFacts {
  owner: EventOwner;
  service: string;
  instance: string;
  /** The same object in the request's start, auth and end events. */
  request: object;
  method: string;
  path: string;
  remoteAddress: string;
}

export interface AuthenticateRequestOptions {
  route?: RouteAuth;
  /** The request's event facts; default: from `req` under the RequestAuth's owner. */
  facts?: RequestEventFacts;
}

export interface RequestAuth {
  /** The authenticators tried, in order: Basic, bearer JWT, client certificate, then your own. */
  readonly authenticators: readonly Authenticator[];
  /**
   * Set when client certificates are an option: the server must ask for them (requestCert) and
   * verify them against `ca`; `required`: callers without a trusted one are turned away at the handshake.
   */
  readonly clientCertificates: ServiceAuth['clientCertificates'];
  /** Never rejects for bad credentials: they are an AuthFailure to send. */
  authenticateRequest(req: IncomingMessage, opts?: AuthenticateRequestOptions): Promise<RequestAuthOutcome>;
  /** Goes up whenever credentials checked before may no longer hold (a users file reload). */
  generation(): number;
  /** Reads the users file again now; a bad file keeps the last good users. */
  reload(): Promise<void>;
  /** Stops watching the users file and fetching JWKS. */
  close(): Promise<void>;
}

/** The path without its query string, which can carry secrets. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

export function unauthorizedAnswer(status: 400 | 401, challenge: string, hadCredentials: boolean): AuthFailure {
  const message = status === 400 ? 'malformed Authorization header' : hadCredentials ? 'invalid credentials' : 'credentials are required';
  return { ok: false, status, headers: challenge === '' ? {} : { 'www-authenticate': challenge }, body: { error: 'unauthorized', message } };
}

/**
 * 403: authenticated, not allowed. A token caller gets RFC 6750's insufficient_scope challenge
 * naming the scopes it lacks, so its OAuth2 client knows what to ask for.
 */
export function forbiddenAnswer(principal: Principal, missingScopes: readonly string[], realm: string): AuthFailure {
  const headers: Record<string, string> = principal.kind === 'token' && missingScopes.length > 0
    ? { 'www-authenticate': bearerChallenge({ realm, error: 'insufficient_scope', scope: [...missingScopes] }) }
    : {};
  return { ok: false, status: 403, headers, body: { error: 'forbidden', message: 'authenticated, but not allowed to use this route' } };
}

export function limitedAnswer(retryAfterSec: number): AuthFailure {
  return {
    ok: false,
    status: 429,
    headers: { 'retry-after': String(retryAfterSec) },
    body: { error: 'too_many_requests', message: `too many failed logins: try again in ${retryAfterSec} s` },
  };
}

/** Writes an AuthFailure as the response of a plain node:http handler. */
export function sendAuthFailure(res: ServerResponse, failure: AuthFailure): void {
  const body = JSON.stringify(failure.body);
  res.writeHead(failure.status, {
    ...failure.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** The scheme a caller tried, bounded to the ones Farol knows (a metric label). */
function schemeOf(authorization: string | undefined, certificate: boolean): string | undefined {
  if (authorization !== undefined) {
    const scheme = authorization.trimStart().split(/\s/, 1)[0]?.toLowerCase();
    return scheme === 'basic' || scheme === 'bearer' ? scheme : 'other';
  }
  return certificate ? 'certificate' : undefined;
}

const SCHEME_OF_PRINCIPAL: Record<Principal['kind'], string> = { user: 'basic', token: 'bearer', certificate: 'certificate' };

// Parsing the peer certificate costs more than the rest of the check: once per connection.
const peerTlsBySocket = new WeakMap<object, PeerTls>();

function peerTls(req: IncomingMessage): PeerTls {
  const socket = req.socket as TLSSocket;
  let peer = peerTlsBySocket.get(socket);
  if (peer === undefined) {
    peer = typeof socket.getPeerCertificate === 'function' ? peerTlsOf(socket) : { authorized: false };
    peerTlsBySocket.set(socket, peer);
  }
  return peer;
}

/** Request identities for events from a plain handler (an opaque object, so subscribers never hold the request). */
const plainRequestRefs = new WeakMap<IncomingMessage, object>();

function plainFacts(req: IncomingMessage, who: { owner: EventOwner; service: string; instance: string }): RequestEventFacts {
  let ref = plainRequestRefs.get(req);
  if (ref === undefined) {
    ref = {};
    plainRequestRefs.set(req, ref);
  }
  return { ...who, request: ref, method: req.method ?? 'GET', path: pathOf(req.url ?? '/'), remoteAddress: req.socket.remoteAddress ?? '' };
}

export interface RequestAuthIdentity {
  /** Whose events the checks publish (farol:auth:outcome); default: an owner of their own. */
  owner?: EventOwner;
  /** The instance named in those events; default: the realm. */
  instance?: string;
}

/**
 * Builds the authenticators from `options` (at least one way in; a users file is read and
 * watched, JWKS fetched, the client CA loaded: every configuration error surfaces here) and
 * returns the function that authenticates a request.
 *
 *     const auth = await createRequestAuth({ realm: 'orders', usersFile: 'users.txt' });
 *     https.createServer(tlsOptions, async (req, res) => {
 *       const outcome = await auth.authenticateRequest(req);
 *       if (!outcome.ok) return sendAuthFailure(res, outcome);
 *       res.end(`hello ${outcome.principal.id}`);
 *     });
 */
export async function createRequestAuth(options: AuthOptions, identity: RequestAuthIdentity = {}): Promise<RequestAuth> {
  const opts = resolveAuthOptions(options);
  const instance = identity.instance ?? opts.realm;
  const owner = identity.owner ?? createEventOwner('service', instance);
  const chain = await buildServiceAuth(opts, owner);
  return requestAuthOver(chain, { realm: opts.realm, instance, owner, ...(opts.require ? { require: opts.require } : {}) });
}

/** The request check over an authenticator chain already built (createService builds its own). */
export function requestAuthOver(
  chain: ServiceAuth,
  opts: { realm: string; instance: string; owner: EventOwner; require?: AccessRequirement },
): RequestAuth {
  const connectionAuth = createConnectionAuth(undefined, undefined, chain.generation);
  const withCertificates = chain.clientCertificates !== undefined;
  const who = { owner: opts.owner, service: opts.realm, instance: opts.instance };

  async function authenticateRequest(req: IncomingMessage, call: AuthenticateRequestOptions = {}): Promise<RequestAuthOutcome> {
    const facts = call.facts ?? plainFacts(req, who);
    const routeAuth = call.route;
    const authenticators = routeAuth?.authenticators ?? chain.authenticators;
    const authorization = req.headers.authorization;
    const connection = req.socket;
    const remembered = connectionAuth.principalOf(connection, authenticators, authorization);
    const result: AuthResult = remembered
      ? { outcome: 'authenticated', principal: remembered }
      : await authenticate(authenticators, {
          headers: req.headers,
          remoteAddress: facts.remoteAddress,
          ...(withCertificates ? { tls: peerTls(req) } : {}),
        });
    if (result.outcome === 'authenticated') {
      const { principal } = result;
      if (!remembered) connectionAuth.remember(connection, authenticators, authorization, principal);
      const decision = authorize(principal, opts.require, routeAuth?.require);
      if (decision.allowed) {
        if (channels.authOutcome.hasSubscribers) {
          channels.authOutcome.publish({ ...facts, outcome: 'authenticated', scheme: SCHEME_OF_PRINCIPAL[principal.kind], principal: principal.id, remembered: remembered !== undefined });
        }
        return { ok: true, principal };
      }
      if (channels.authOutcome.hasSubscribers) {
        channels.authOutcome.publish({
          ...facts,
          outcome: 'forbidden',
          status: 403,
          scheme: SCHEME_OF_PRINCIPAL[principal.kind],
          reason: decision.reason,
          principal: principal.id,
          principalKind: principal.kind,
        });
      }
      return forbiddenAnswer(principal, decision.missingScopes, opts.realm);
    }
    if (result.outcome === 'limited') {
      if (channels.authOutcome.hasSubscribers) {
        channels.authOutcome.publish({ ...facts, outcome: 'limited', status: 429, reason: result.reason, retryAfterSec: result.retryAfterSec });
      }
      return limitedAnswer(result.retryAfterSec);
    }
    const certificate = withCertificates && peerTls(req).peerCertificate !== undefined;
    const hadCredentials = authorization !== undefined || certificate;
    if (result.outcome === 'rejected') {
      if (channels.authOutcome.hasSubscribers) {
        channels.authOutcome.publish({
          ...facts,
          outcome: 'rejected',
          scheme: schemeOf(authorization, certificate),
          status: result.status,
          reason: result.reason,
          username: result.username ?? null,
          hadCredentials,
        });
      }
      return unauthorizedAnswer(result.status, result.challenge, hadCredentials);
    }
    // 'absent' is only returned by a single authenticator; authenticate() turns it into a rejection.
    return unauthorizedAnswer(401, '', false);
  }

  return {
    authenticators: chain.authenticators,
    clientCertificates: chain.clientCertificates,
    authenticateRequest,
    generation: chain.generation,
    reload: chain.reload,
    close: chain.close,
  };
}
