import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { FarolError } from '../errors.js';
import { parseRequestAuthorization } from './authorization-header.js';
import { bearerChallenge } from './bearer-challenge.js';
import { checkRealm } from './realm.js';
import { createJwtKeys, SigningKeysUnavailableError, type JwtKeyOptions } from './jwt-keys.js';
import type { AuthRequest, AuthResult, Authenticator, Principal } from './principal.js';
import { createVerifiedTokens, type VerifiedTokensOptions } from './verified-tokens.js';

export interface JwtClaimsOptions {
  /** Shown in the challenge; the service uses its name. */
  realm: string;
  /** The `iss` a token must carry (one of them, for a list). */
  issuer: string | string[];
  /** The `aud` a token must carry (one of them, for a list): the identifier of this service. */
  audience: string | string[];
  /**
   * The `alg` values accepted. Default RS256, PS256, ES256, EdDSA (narrowed to what a single
   * `publicKey` can verify), or HS256 with `secret`. 'none' is refused, and HS* only with `secret`.
   */
  algorithms?: string[];
  /** Leeway for `exp` and `nbf` against clock skew, in seconds, 0 to 300. Default 30. */
  clockToleranceSec?: number;
  /**
   * Tokens that verified are remembered (by digest) until they expire or for at most 60 s, so a
   * client reusing its token pays one signature check, not one per request: see
   * verified-tokens.ts. Options to change the bounds; false verifies every request.
   */
  cache?: VerifiedTokensOptions | false;
}

export type JwtAuthenticatorOptions = JwtClaimsOptions & JwtKeyOptions;

export interface JwtAuthenticator extends Authenticator {
  /** Releases the remote key set's connections (nothing to do for a local key). */
  close(): Promise<void>;
}

/** Every reason a JWT authenticator gives for a refused token (401); a malformed header (400) gives 'malformed Bearer credentials: ...'. */
export const JWT_REJECTION_REASONS = [
  'malformed token',
  'algorithm not allowed',
  'bad signature',
  'no matching signing key',
  'ambiguous signing key',
  'signing keys unavailable',
  'token expired',
  'token not yet valid',
  'token has no expiry',
  'token has no issuer',
  'unexpected issuer',
  'token has no audience',
  'unexpected audience',
  'invalid claims',
  'token names no subject',
  'invalid scope claim',
  'invalid token',
] as const;

export type JwtRejectionReason = (typeof JWT_REJECTION_REASONS)[number];

export const DEFAULT_JWT_CLOCK_TOLERANCE_SEC = 30;
export const MAX_JWT_CLOCK_TOLERANCE_SEC = 300;

/** Our own fixed words for a jose failure: jose's messages are not echoed, so no claim value reaches a header or log. */
function rejectionReason(error: unknown): JwtRejectionReason {
  if (error instanceof SigningKeysUnavailableError) return 'signing keys unavailable';
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const missing = error.reason === 'missing';
    switch (error.claim) {
      case 'exp':
        return missing ? 'token has no expiry' : 'invalid claims';
      case 'nbf':
        return error.reason === 'check_failed' ? 'token not yet valid' : 'invalid claims';
      case 'iss':
        return missing ? 'token has no issuer' : 'unexpected issuer';
      case 'aud':
        return missing ? 'token has no audience' : 'unexpected audience';
      default:
        return 'invalid claims';
    }
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no matching signing key';
  // No kid and several keys fit. Trying each would let one token cost a verification per key in the set.
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys) return 'ambiguous signing key';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JOSENotSupported) return 'malformed token';
  return 'invalid token';
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** `scope` (RFC 8693 / RFC 9068: one space-separated string) and `scp` (a list, or a string as some issuers send), merged. */
function scopesOf(payload: JWTPayload): string[] | undefined {
  const scopes: string[] = [];
  for (const claim of [payload.scope, payload.scp]) {
    if (claim === undefined) continue;
    if (typeof claim === 'string') scopes.push(...claim.split(' ').filter((scope) => scope !== ''));
    else if (Array.isArray(claim) && claim.every((scope) => typeof scope === 'string')) scopes.push(...claim.filter((scope) => scope !== ''));
    else return undefined;
  }
  return [...new Set(scopes)];
}

function principalOf(payload: JWTPayload): Principal | JwtRejectionReason {
  const id = [payload.sub, payload.client_id, payload.azp].find(nonEmptyString);
  if (id === undefined) return 'token names no subject';
  const scopes = scopesOf(payload);
  if (scopes === undefined) return 'invalid scope claim';
  return { kind: 'token', id, scopes };
}

function checkNames(name: string, value: string | string[]): string[] {
  const values = Array.isArray(value) ? value : [value];
  if (values.length === 0 || !values.every(nonEmptyString)) {
    throw new FarolError('CONFIG_INVALID', `the JWT ${name} must be a non-empty string or a non-empty list of them`, {
      hint: `give the ${name} your issuer puts in its tokens`,
    });
  }
  return values;
}

/**
 * Bearer JWT authentication (RFC 6750, RFC 7519) with jose.
 *
 * - no Authorization header, or another scheme: 'absent';
 * - a Bearer header that does not parse: rejected, 400, error="invalid_request";
 * - a token that fails verification (signature, alg outside the allow-list, iss, aud, exp, nbf,
 *   no exp, no subject): rejected, 401, error="invalid_token" with one of JWT_REJECTION_REASONS
 *   as the reason and the error_description. The token itself never appears in either;
 * - the signing keys cannot be had (JWKS unreachable, untrusted, garbage): rejected, 401, reason
 *   'signing keys unavailable', so a caller can tell an issuer outage from a bad token;
 * - otherwise authenticated as { kind: 'token', id: sub (else client_id, else azp), scopes }.
 *
 * Never throws for anything a request can contain. Throws CONFIG_INVALID at creation for a bad
 * realm, issuer, audience, tolerance, algorithm list or key source (see createJwtKeys).
 */
export function createJwtAuthenticator(opts: JwtAuthenticatorOptions): JwtAuthenticator {
  checkRealm('Bearer', opts.realm);
  const issuer = checkNames('issuer', opts.issuer);
  const audience = checkNames('audience', opts.audience);
  const clockTolerance = opts.clockToleranceSec ?? DEFAULT_JWT_CLOCK_TOLERANCE_SEC;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0 || clockTolerance > MAX_JWT_CLOCK_TOLERANCE_SEC) {
    throw new FarolError('CONFIG_INVALID', `invalid JWT option clockToleranceSec: ${String(clockTolerance)}`, {
      hint: `give a number of seconds from 0 to ${MAX_JWT_CLOCK_TOLERANCE_SEC}`,
    });
  }
  const keys = createJwtKeys(opts, opts.algorithms);
  const verified = opts.cache === false ? undefined : createVerifiedTokens(opts.cache);
  const verifyOptions = { issuer, audience, algorithms: keys.algorithms, clockTolerance, requiredClaims: ['exp'] };

  const challenge = bearerChallenge({ realm: opts.realm });
  const malformedChallenge = bearerChallenge({ realm: opts.realm, error: 'invalid_request' });
  const refusalChallenges = new Map<JwtRejectionReason, string>(
    JWT_REJECTION_REASONS.map((reason) => [reason, bearerChallenge({ realm: opts.realm, error: 'invalid_token', description: reason })]),
  );
  const refuse = (reason: JwtRejectionReason): AuthResult => ({ outcome: 'rejected', status: 401, reason, challenge: refusalChallenges.get(reason) ?? challenge });

  return {
    scheme: 'Bearer',
    challenge: () => challenge,
    close: () => keys.close(),
    async authenticate(req: AuthRequest): Promise<AuthResult> {
      const parsed = parseRequestAuthorization(req);
      if (parsed?.scheme === 'malformed' && parsed.name?.toLowerCase() === 'bearer') {
        return { outcome: 'rejected', status: 400, reason: `malformed Bearer credentials: ${parsed.reason}`, challenge: malformedChallenge };
      }
      if (parsed?.scheme !== 'bearer') return { outcome: 'absent' };
      const known = verified?.lookup(parsed.token);
      if (known !== undefined) return { outcome: 'authenticated', principal: known };
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(parsed.token, keys.key as Parameters<typeof jwtVerify>[1], verifyOptions));
      } catch (error) {
        return refuse(rejectionReason(error));
      }
      const principal = principalOf(payload);
      if (typeof principal === 'string') return refuse(principal);
      // requiredClaims makes jose refuse a token without a numeric exp.
      verified?.remember(parsed.token, principal, ((payload.exp as number) + clockTolerance) * 1000);
      return { outcome: 'authenticated', principal };
    },
  };
}
