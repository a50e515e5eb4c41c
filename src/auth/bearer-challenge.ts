import { FarolError } from '../errors.js';
import { checkRealm, quotedString } from './realm.js';

export { isValidRealm, quotedString } from './realm.js';

/** The error codes of RFC 6750 section 3.1. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface BearerChallengeOptions {
  realm: string;
  error?: BearerErrorCode;
  /** Human-readable, for the client's developer. Characters RFC 6750 does not allow are replaced, and it is cut to 200 characters. */
  description?: string;
  /** The scopes the resource needs (RFC 6750 section 3), for an insufficient_scope challenge. */
  scope?: string[];
}

// RFC 6750 section 3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
// RFC 6750 section 3: error_description allows %x20-21 / %x23-5B / %x5D-7E only, so no escapes at all.
const NOT_DESCRIPTION_CHAR = /[^\x20\x21\x23-\x5b\x5d-\x7e]/gu;
const MAX_DESCRIPTION_LENGTH = 200;

/** `text` made fit for error_description: each disallowed character (code point) becomes `'` (for `"`), `/` (for `\`) or `?`; at most 200 characters. */
export function sanitizeDescription(text: string): string {
  const replaced = text.replace(NOT_DESCRIPTION_CHAR, (char) => (char === '"' ? "'" : char === '\\' ? '/' : '?'));
  return replaced.slice(0, MAX_DESCRIPTION_LENGTH);
}

/**
 * A WWW-Authenticate value for the Bearer scheme (RFC 6750 section 3), e.g.
 * `Bearer realm="orders", error="invalid_token", error_description="token expired"`.
 * The realm is a quoted-string with escapes (RFC 9110); the description is reduced to the
 * characters RFC 6750 allows, so the value is always a valid header value.
 *
 * Throws CONFIG_INVALID for a realm or scope that cannot be written into the header: those come
 * from configuration, never from a request.
 */
export function bearerChallenge(opts: BearerChallengeOptions): string {
  checkRealm('Bearer', opts.realm);
  const params = [`realm=${quotedString(opts.realm)}`];
  if (opts.error !== undefined) params.push(`error="${opts.error}"`);
  if (opts.description !== undefined && opts.description !== '') params.push(`error_description="${sanitizeDescription(opts.description)}"`);
  if (opts.scope !== undefined && opts.scope.length > 0) {
    const bad = opts.scope.find((scope) => !SCOPE_TOKEN.test(scope));
    if (bad !== undefined) {
      throw new FarolError('CONFIG_INVALID', `the scope ${JSON.stringify(bad)} cannot appear in a Bearer challenge`, {
        hint: 'scopes are printable ASCII without spaces, double quotes or backslashes (RFC 6749 section 3.3)',
      });
    }
    params.push(`scope="${opts.scope.join(' ')}"`);
  }
  return `Bearer ${params.join(', ')}`;
}
