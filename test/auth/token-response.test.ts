import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_TOKEN_LIFETIME_SEC,
  parseOAuthError,
  parseTokenResponse,
  printable,
  tokenSchedule,
} from '../../src/auth/token-response.js';

const B64TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/'.split('');
const b64token = fc
  .tuple(fc.array(fc.constantFrom(...B64TOKEN_CHARS), { minLength: 1, maxLength: 300 }), fc.nat({ max: 2 }))
  .map(([chars, padding]) => chars.join('') + '='.repeat(padding));
/** "bearer" in any mix of upper and lower case. */
const bearer = fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }).map((upper) =>
  [...'bearer'].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''),
);
const positiveSeconds = fc.oneof(fc.integer({ min: 1, max: 10 ** 9 }), fc.double({ min: 0.001, max: 1e9, noNaN: true }));
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/; // eslint-disable-line no-control-regex

describe('parseTokenResponse', () => {
  it('accepts every well-formed Bearer answer and returns its token, lifetime and scope unchanged', () => {
    fc.assert(
      fc.property(b64token, bearer, fc.option(positiveSeconds, { nil: undefined }), fc.option(fc.string(), { nil: undefined }), (token, type, expiresIn, scope) => {
        const result = parseTokenResponse({ access_token: token, token_type: type, expires_in: expiresIn, scope, extra: { ignored: true } });
        assert.deepEqual(result, { ok: true, grant: { accessToken: token, expiresInSec: expiresIn, scope } });
      }),
    );
  });

  it('accepts expires_in sent as a string of digits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 ** 9 }), (seconds) => {
        const result = parseTokenResponse({ access_token: 'abc', token_type: 'Bearer', expires_in: String(seconds) });
        assert.ok(result.ok);
        assert.equal(result.grant.expiresInSec, seconds);
      }),
    );
  });

  it('treats a missing or null expires_in as unknown (the caller then assumes a short lifetime)', () => {
    for (const body of [{ access_token: 'abc', token_type: 'bearer' }, { access_token: 'abc', token_type: 'bearer', expires_in: null }]) {
      const result = parseTokenResponse(body);
      assert.ok(result.ok);
      assert.equal(result.grant.expiresInSec, undefined);
    }
  });

  it('refuses an access_token a header cannot carry, without quoting it', () => {
    const unsafe = fc
      .tuple(fc.string(), fc.constantFrom(' ', '\r\n', '\n', '"', ',', ';', '\u0000', 'é', '\t'), fc.string())
      .map(([before, bad, after]) => `SECRET${before}${bad}${after}`);
    fc.assert(
      fc.property(unsafe, (token) => {
        const result = parseTokenResponse({ access_token: token, token_type: 'Bearer', expires_in: 60 });
        assert.deepEqual(result, { ok: false, problem: 'its access_token has characters a bearer token cannot contain' });
      }),
    );
  });

  it('refuses a non-positive or non-numeric expires_in', () => {
    const bad = fc.oneof(
      fc.integer({ max: 0 }),
      fc.double({ max: 0, noNaN: true }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, '', 'soon', '-5', '0', true, [], {}),
    );
    fc.assert(
      fc.property(bad, (expiresIn) => {
        const result = parseTokenResponse({ access_token: 'abc', token_type: 'Bearer', expires_in: expiresIn });
        assert.deepEqual(result, { ok: false, problem: 'its expires_in is not a positive number of seconds' });
      }),
    );
  });

  it('refuses token types other than Bearer, naming the type', () => {
    for (const type of ['DPoP', 'mac', 'N_A', 'Bearer ', '']) {
      const result = parseTokenResponse({ access_token: 'abc', token_type: type, expires_in: 60 });
      assert.equal(result.ok, false);
      assert.match(result.ok ? '' : result.problem, /only Bearer tokens are supported/);
    }
    assert.deepEqual(parseTokenResponse({ access_token: 'abc' }), { ok: false, problem: 'it has no token_type' });
    assert.deepEqual(parseTokenResponse({ token_type: 'Bearer' }), { ok: false, problem: 'it has no access_token' });
  });

  it('never throws, whatever JSON it is given, and never quotes an access token in a problem', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const result = parseTokenResponse(value);
        if (!result.ok) {
          assert.equal(typeof result.problem, 'string');
          const token = (value as { access_token?: unknown } | null)?.access_token;
          if (typeof token === 'string' && token.length >= 8) assert.ok(!result.problem.includes(token));
        }
      }),
    );
  });
});

describe('parseOAuthError', () => {
  it('reads the RFC 6749 error and a one-line description of at most 200 characters', () => {
    fc.assert(
      fc.property(fc.constantFrom('invalid_client', 'invalid_scope', 'custom:thing'), fc.string({ maxLength: 400 }), (error, description) => {
        const parsed = parseOAuthError({ error, error_description: description });
        assert.equal(parsed?.error, error);
        if (parsed?.description !== undefined) {
          assert.ok(parsed.description.length <= 200);
          assert.doesNotMatch(parsed.description, CONTROL);
        }
      }),
    );
  });

  it('is undefined for anything that is not an OAuth error body', () => {
    for (const body of [null, [], 'invalid_client', {}, { error: 7 }, { error: '' }, { error: 'quo"te' }, { error: 'back\\slash' }]) {
      assert.equal(parseOAuthError(body), undefined);
    }
  });
});

describe('tokenSchedule', () => {
  it('refreshes refreshSkewSec before expiry, but never earlier than half the lifetime', () => {
    // Epoch milliseconds up to the year 2109; float error at that size is far below EPSILON_MS.
    const EPSILON_MS = 0.01;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 42 }), positiveSeconds, fc.double({ min: 0, max: 1e6, noNaN: true }), (obtainedAt, expiresIn, skew) => {
        const { expiresAt, refreshAt } = tokenSchedule(obtainedAt, expiresIn, skew);
        const lifetimeMs = expiresIn * 1000;
        assert.ok(Math.abs(expiresAt - (obtainedAt + lifetimeMs)) <= EPSILON_MS);
        assert.ok(refreshAt <= expiresAt);
        assert.ok(refreshAt >= obtainedAt + lifetimeMs / 2 - EPSILON_MS);
        assert.ok(expiresAt - refreshAt <= skew * 1000 + EPSILON_MS);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives a token without expires_in the default short lifetime', () => {
    assert.deepEqual(tokenSchedule(1_000, undefined, 30), { expiresAt: 1_000 + DEFAULT_TOKEN_LIFETIME_SEC * 1000, refreshAt: 1_000 + 30_000 });
    assert.deepEqual(tokenSchedule(0, 2, 30), { expiresAt: 2_000, refreshAt: 1_000 });
  });
});

describe('printable', () => {
  it('leaves no control characters or line breaks and keeps within the bound', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 500 }), fc.integer({ min: 1, max: 300 }), (text, max) => {
        const clean = printable(text, max);
        assert.ok(clean.length <= max);
        assert.doesNotMatch(clean, CONTROL);
      }),
    );
  });
});
