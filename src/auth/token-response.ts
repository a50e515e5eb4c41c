import { z } from 'zod';

/**
 * What an OAuth2 token endpoint answers (RFC 6749 §5.1 and §5.2), checked before anything of it is
 * used. Pure: no I/O, no clock. A problem is described in words that never quote the token.
 */

/** A token answer a client can use. */
export interface AccessTokenGrant {
  accessToken: string;
  /** As the server gave it, in seconds; undefined when it gave none. */
  expiresInSec: number | undefined;
  /** The granted scope, when the server says (RFC 6749: it must when it differs from the request). */
  scope: string | undefined;
}

export type TokenResponseResult = { ok: true; grant: AccessTokenGrant } | { ok: false; problem: string };

/** An error answer (RFC 6749 §5.2): `error` is one of the registered codes or an extension. */
export interface OAuthErrorResponse {
  error: string;
  /** Cleaned for a one-line message: control characters removed, at most 200 characters. */
  description: string | undefined;
}

/** When the server gives no expires_in, a token is trusted for this long (then fetched again). */
export const DEFAULT_TOKEN_LIFETIME_SEC = 60;

// RFC 6750 §2.1 b64token: what an Authorization: Bearer header can carry.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
// RFC 6749 Appendix A.7: error = 1*( %x20-21 / %x23-5B / %x5D-7E )
const ERROR_CODE = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;
const MAX_DESCRIPTION = 200;

const NOT_POSITIVE = 'its expires_in is not a positive number of seconds';

const tokenResponseSchema = z.looseObject(
  {
    access_token: z
      .string({ error: 'it has no access_token' })
      .min(1, { error: 'it has no access_token' })
      .regex(B64TOKEN, { error: 'its access_token has characters a bearer token cannot contain' }),
    token_type: z.string({ error: 'it has no token_type' }).refine((type) => type.toLowerCase() === 'bearer', {
      error: (issue) => `its token_type is '${printable(String(issue.input), 40)}', and only Bearer tokens are supported`,
    }),
    expires_in: z
      .union(
        [
          z.number(),
          // Some servers send it as a string ("3600"); the value is what matters.
          z.string().regex(/^\s*\d+(\.\d+)?\s*$/).transform(Number),
        ],
        { error: NOT_POSITIVE },
      )
      .refine((seconds) => Number.isFinite(seconds) && seconds > 0, { error: NOT_POSITIVE })
      .nullish(),
    scope: z.string().optional().catch(undefined),
  },
  { error: 'the answer is not a JSON object' },
);

const errorResponseSchema = z.looseObject({
  error: z.string().regex(ERROR_CODE),
  error_description: z.string().optional().catch(undefined),
});

export function parseTokenResponse(body: unknown): TokenResponseResult {
  const parsed = tokenResponseSchema.safeParse(body);
  if (!parsed.success) return { ok: false, problem: parsed.error.issues[0]?.message ?? 'the answer is not a token response' };
  const { access_token: accessToken, expires_in: expiresIn, scope } = parsed.data;
  return { ok: true, grant: { accessToken, expiresInSec: expiresIn ?? undefined, scope } };
}

/** The RFC 6749 error in a body, or undefined when the body is not one. */
export function parseOAuthError(body: unknown): OAuthErrorResponse | undefined {
  const parsed = errorResponseSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const description = parsed.data.error_description?.trim();
  return { error: parsed.data.error, description: description ? printable(description, MAX_DESCRIPTION) : undefined };
}

/** JSON.parse that says whether it worked instead of throwing. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

export interface TokenSchedule {
  /** When the token stops being valid (ms, on the clock `obtainedAt` was read from). */
  expiresAt: number;
  /** When to fetch the next one: `refreshSkewSec` before expiry, but never before half the lifetime. */
  refreshAt: number;
}

/**
 * When a token obtained at `obtainedAt` (ms; read before the request was sent, so network time
 * counts against the token) expires and when to replace it.
 */
export function tokenSchedule(obtainedAt: number, expiresInSec: number | undefined, refreshSkewSec: number): TokenSchedule {
  const lifetimeMs = (expiresInSec ?? DEFAULT_TOKEN_LIFETIME_SEC) * 1000;
  const skewMs = Math.min(Math.max(0, refreshSkewSec) * 1000, lifetimeMs / 2);
  return { expiresAt: obtainedAt + lifetimeMs, refreshAt: obtainedAt + lifetimeMs - skewMs };
}

/** Text from the other side, made safe for a one-line message: no control characters, bounded length. */
export function printable(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}
