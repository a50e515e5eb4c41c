import { createHash } from 'node:crypto';
import { createAttemptLimiter, type Attempt, type AttemptLimiter, type AttemptLimiterOptions } from './attempt-limiter.js';
import { authorizationValues, parseRequestAuthorization } from './authorization-header.js';
import type { AuthRequest, AuthResult, Authenticator } from './principal.js';
import type { UsersSource } from './users-source.js';

/** Which requests are login attempts, and the user name each one tries. */
export type AttemptOf = (req: AuthRequest) => { username?: string } | undefined;

export interface LimitedAuthenticatorOptions {
  /** The limiter to count with: one shared by several wrappers counts their failures together. Default: a new one with `limits`. */
  limiter?: AttemptLimiter;
  /** Options of the new limiter when none is given (see attempt-limiter.ts for the defaults). */
  limits?: AttemptLimiterOptions;
  /**
   * Which requests are counted, and as which user name; others go straight to the inner
   * authenticator. Default `credentialsAttempt`: any request carrying an Authorization header or
   * a client certificate, which fits a wrapper around the whole chain. A wrapper around only the
   * Basic authenticator inside a chain should pass `basicAttempt`, so a locked address can still
   * present a token or a certificate to the authenticators after it.
   */
  attemptOf?: AttemptOf;
  /**
   * The reloading users the inner authenticator checks (watchUsersFile). When a reload removes a
   * user or changes a password, the trusted (address, user name) pairs of that name are forgotten,
   * so logins made with the old credentials exempt nobody from the name's locks any more.
   */
  users?: Pick<UsersSource, 'onChange'>;
}

/** The user name of Basic credentials, when the header holds them and they parse. */
function basicUsername(req: AuthRequest): string | undefined {
  const parsed = parseRequestAuthorization(req);
  return parsed?.scheme === 'basic' ? parsed.username : undefined;
}

/** Any request that carries credentials: an Authorization header (any scheme) or a client certificate. */
export const credentialsAttempt: AttemptOf = (req) => {
  const hasHeader = authorizationValues(req).length > 0;
  if (!hasHeader && req.tls?.peerCertificate === undefined) return undefined;
  const username = basicUsername(req);
  return username === undefined ? {} : { username };
};

/** Requests whose Authorization header is Basic, well-formed or not. */
export const basicAttempt: AttemptOf = (req) => {
  const parsed = parseRequestAuthorization(req);
  if (parsed?.scheme === 'basic') return { username: parsed.username };
  if (parsed?.scheme === 'malformed' && parsed.name?.toLowerCase() === 'basic') return {};
  return undefined;
};

/**
 * Wraps an authenticator (or a chain made into one) with brute-force limiting: see
 * attempt-limiter.ts for what is counted and how long a lock lasts. While the request's address
 * or user name is locked, the answer is `{ outcome: 'limited', retryAfterSec, reason }` (HTTP 429
 * with Retry-After) and the inner authenticator is not called, so a locked attacker costs no
 * password verification. Otherwise the inner result is returned as it is and counted: 'rejected'
 * as a failure (with the user name the request or the result names), 'authenticated' as a
 * success (which trusts the address for that user name), 'absent' not at all.
 */
export function createLimitedAuthenticator(inner: Authenticator, opts: LimitedAuthenticatorOptions = {}): Authenticator {
  const limiter = opts.limiter ?? createAttemptLimiter(opts.limits);
  const attemptOf = opts.attemptOf ?? credentialsAttempt;
  opts.users?.onChange(({ revoked }) => limiter.forgetTrust(revoked));
  // Requests from one address with the same Authorization value, while the first is still being
  // verified, are one guess, not many: they share its attempt and its result. So a client's first
  // burst of parallel calls is neither counted as a burst of failures nor paid in scrypt per call.
  const inFlight = new Map<string, Promise<AuthResult>>();

  const attemptOnce = async (req: AuthRequest, tried: { username?: string }): Promise<AuthResult> => {
    const attempt: Attempt = { ...(req.remoteAddress === undefined ? {} : { address: req.remoteAddress }), ...tried };
    const admission = limiter.admit(attempt);
    if (!admission.admitted) {
      return { outcome: 'limited', retryAfterSec: Math.max(1, Math.ceil(admission.retryAfterMs / 1000)), reason: admission.reason };
    }
    const { ticket } = admission;
    let result: AuthResult;
    try {
      result = await inner.authenticate(req);
    } catch (error) {
      ticket.abandoned();
      throw error;
    }
    if (result.outcome === 'authenticated') ticket.succeeded();
    else if (result.outcome === 'rejected') ticket.failed(result.username);
    else ticket.abandoned();
    return result;
  };

  return {
    scheme: inner.scheme,
    challenge: () => inner.challenge(),
    async authenticate(req: AuthRequest): Promise<AuthResult> {
      const tried = attemptOf(req);
      if (tried === undefined) return inner.authenticate(req);
      const key = guessKey(req);
      if (key === undefined) return attemptOnce(req, tried);
      const pending = inFlight.get(key);
      if (pending !== undefined) return pending;
      const attempt = attemptOnce(req, tried);
      inFlight.set(key, attempt);
      try {
        return await attempt;
      } finally {
        inFlight.delete(key);
      }
    },
  };
}

/** The address and a digest of the Authorization value (never the value itself, which holds a password). */
function guessKey(req: AuthRequest): string | undefined {
  const values = authorizationValues(req);
  if (values.length !== 1) return undefined;
  const value = values[0]!;
  return `${req.remoteAddress ?? ''}\0${createHash('sha256').update(value).digest('base64')}`;
}
