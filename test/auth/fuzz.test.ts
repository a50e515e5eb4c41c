import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { CompactSign } from 'jose';
import { parseAuthorization, parseRequestAuthorization } from '../../src/auth/authorization-header.js';
import { createJwtAuthenticator, JWT_REJECTION_REASONS, type JwtAuthenticator } from '../../src/auth/jwt-authenticator.js';
import type { AuthResult } from '../../src/auth/principal.js';
import { base64url, makeSigningKey, nowSec, signToken, TEST_AUDIENCE, TEST_ISSUER, TEST_REALM, TEST_SUBJECT, unhandledRejectionsDuring, type TestSigningKey } from './jwt-test-support.js';

const NUM_RUNS = 10_000;
const SCHEMES = new Set(['basic', 'bearer', 'other', 'malformed']);
// What parseAuthorization can say about a header that starts with "Bearer ".
const MALFORMED_BEARER_REASONS = ['Bearer token is missing', 'Bearer token is not a b64token (RFC 6750)', 'header is longer than 8192 characters'].map(
  (reason) => `malformed Bearer credentials: ${reason}`,
);
const CHALLENGE = `Bearer realm="${TEST_REALM}"`;
const REJECTION_CHALLENGES = new Set([
  `${CHALLENGE}, error="invalid_request"`,
  ...JWT_REJECTION_REASONS.map((reason) => `${CHALLENGE}, error="invalid_token", error_description="${reason}"`),
]);
// Every text a result can carry. A token that happens to be part of one (e.g. "invalid_token") is not a leak.
const FIXED_TEXTS = [...MALFORMED_BEARER_REASONS, ...JWT_REJECTION_REASONS, ...REJECTION_CHALLENGES];

const controlChar = fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code));
const base64urlChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
const base64urlString = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: base64urlChar, maxLength });

/** Any string: full Unicode (lone surrogates too), ASCII, control characters, near-headers, and huge ones past the length limit. */
const anyString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 100 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.oneof(controlChar, fc.constantFrom(' ', '\t', '=', '.')), maxLength: 100 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('Bearer ', 'bearer  ', 'Basic ', ' Bearer\t', 'BEARER '), fc.string({ unit: 'binary', maxLength: 200 }))
      .map((parts) => parts.join('')),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('', 'Bearer ', 'Basic ', ' '), fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 3_000 }))
      .map(([prefix, unit, times]) => prefix + unit.repeat(times)),
  },
);

/** Three base64url-ish parts: random text, or JSON headers and claims that look almost right, with random signatures. */
const threePartToken = fc.oneof(
  fc.tuple(base64urlString(80), base64urlString(200), base64urlString(120)).map((parts) => parts.join('.')),
  fc
    .tuple(
      fc.record(
        {
          alg: fc.oneof(fc.constantFrom('ES256', 'RS256', 'PS256', 'EdDSA', 'HS256', 'none', 'None', ''), fc.string({ maxLength: 10 })),
          kid: fc.string({ maxLength: 20 }),
          typ: fc.constantFrom('JWT', 'at+jwt', 'JWE'),
          crit: fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
          b64: fc.boolean(),
        },
        { requiredKeys: ['alg'] },
      ),
      fc.oneof(
        fc.record({
          iss: fc.oneof(fc.constant(TEST_ISSUER), fc.jsonValue()),
          aud: fc.oneof(fc.constant(TEST_AUDIENCE), fc.jsonValue()),
          sub: fc.oneof(fc.string(), fc.jsonValue()),
          exp: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()),
          nbf: fc.oneof(fc.integer(), fc.jsonValue()),
          scope: fc.jsonValue(),
        }, { requiredKeys: [] }),
        fc.jsonValue(),
      ),
      fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64url')), base64urlString(100)),
    )
    .map(([header, payload, signature]) => `${base64url(header)}.${base64url(payload)}.${signature}`),
);

function checkRefused(result: AuthResult, token: string): void {
  if (result.outcome === 'absent') return;
  assert.equal(result.outcome, 'rejected');
  if (result.outcome !== 'rejected') return;
  assert.ok(result.status === 400 || result.status === 401);
  assert.ok(
    result.status === 400 ? MALFORMED_BEARER_REASONS.includes(result.reason) : (JWT_REJECTION_REASONS as readonly string[]).includes(result.reason),
    result.reason,
  );
  assert.ok(REJECTION_CHALLENGES.has(result.challenge), result.challenge);
  if (token.length >= 8 && !FIXED_TEXTS.some((text) => text.includes(token))) {
    assert.ok(!result.reason.includes(token) && !result.challenge.includes(token));
  }
}

describe('fuzz', () => {
  describe('parseAuthorization', () => {
    it('is total on arbitrary strings: full Unicode, control characters, huge values', () => {
      fc.assert(
        fc.property(anyString, (value) => {
          const parsed = parseAuthorization(value);
          assert.ok(parsed !== undefined && SCHEMES.has(parsed.scheme));
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('is total on arbitrary request headers, arrays and odd names included', () => {
      const value = fc.oneof(anyString, fc.array(anyString, { maxLength: 3 }), fc.constant(undefined));
      const headers = fc.dictionary(fc.oneof(fc.constantFrom('authorization', 'Authorization', 'AUTHORIZATION'), fc.string({ maxLength: 15 })), value, { maxKeys: 4 });
      fc.assert(
        fc.property(headers, (record) => {
          const parsed = parseRequestAuthorization({ headers: record });
          assert.ok(parsed === undefined || SCHEMES.has(parsed.scheme));
        }),
        { numRuns: NUM_RUNS },
      );
    });
  });

  describe('JWT authenticator (local ES256 key)', () => {
    let key: TestSigningKey;
    let authenticator: JwtAuthenticator;
    let validToken: string;

    before(async () => {
      key = await makeSigningKey('ES256');
      authenticator = createJwtAuthenticator({ realm: TEST_REALM, issuer: TEST_ISSUER, audience: TEST_AUDIENCE, jwks: { keys: [key.publicJwk] } });
      validToken = await signToken(key, { claims: { scope: 'orders:read' } });
    });

    it('refuses arbitrary "Bearer <string>" headers with 400/401, never throwing or echoing the token', async () => {
      const unhandled = await unhandledRejectionsDuring(async () => {
        await fc.assert(
          fc.asyncProperty(anyString, async (text) => checkRefused(await authenticator.authenticate({ headers: { authorization: `Bearer ${text}` } }), text)),
          { numRuns: NUM_RUNS },
        );
      });
      assert.deepEqual(unhandled, []);
    });

    it('refuses arbitrary three-part base64url-ish tokens with 401, never throwing or echoing the token', async () => {
      const unhandled = await unhandledRejectionsDuring(async () => {
        await fc.assert(
          fc.asyncProperty(threePartToken, async (token) => checkRefused(await authenticator.authenticate({ headers: { authorization: `Bearer ${token}` } }), token)),
          { numRuns: NUM_RUNS },
        );
      });
      assert.deepEqual(unhandled, []);
    });

    it('a properly signed token with arbitrary claims is accepted only when iss, aud, exp, nbf and the subject hold', async () => {
      const now = nowSec();
      const mostly = <T>(right: fc.Arbitrary<T>, wrong: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
        fc.oneof({ weight: 4, arbitrary: right }, { weight: 1, arbitrary: wrong });
      const time = mostly(fc.integer({ min: now - 600, max: now + 600 }), fc.oneof(fc.double(), fc.jsonValue()));
      const claims = fc.oneof(
        {
          weight: 5,
          arbitrary: fc.record(
            {
              iss: mostly(fc.constant(TEST_ISSUER), fc.oneof(fc.constant([TEST_ISSUER]), fc.jsonValue())),
              aud: mostly(fc.constantFrom(TEST_AUDIENCE, ['x', TEST_AUDIENCE]), fc.jsonValue()),
              sub: mostly(fc.constant(TEST_SUBJECT), fc.oneof(fc.constant(''), fc.jsonValue())),
              client_id: fc.oneof(fc.string({ maxLength: 10 }), fc.jsonValue()),
              exp: time,
              nbf: time,
              iat: time,
              scope: fc.oneof(fc.string({ maxLength: 30 }), fc.jsonValue()),
              scp: fc.oneof(fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }), fc.jsonValue()),
            },
            { requiredKeys: ['iss', 'aud', 'exp'] },
          ),
        },
        { weight: 1, arbitrary: fc.jsonValue() },
      );
      let acceptedCount = 0;
      await fc.assert(
        fc.asyncProperty(claims, async (payload) => {
          const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload) ?? 'null'))
            .setProtectedHeader({ alg: 'ES256', kid: key.kid })
            .sign(key.privateKey);
          const result = await authenticator.authenticate({ headers: { authorization: `Bearer ${token}` } });
          if (result.outcome !== 'authenticated') return checkRefused(result, token);
          const c = payload as Record<string, unknown>;
          const tolerance = 30;
          const at = nowSec();
          assert.equal(c.iss, TEST_ISSUER);
          assert.ok(c.aud === TEST_AUDIENCE || (Array.isArray(c.aud) && c.aud.includes(TEST_AUDIENCE)));
          assert.ok(typeof c.exp === 'number' && c.exp > at - tolerance - 2);
          assert.ok(c.nbf === undefined || (typeof c.nbf === 'number' && c.nbf <= at + tolerance + 2));
          assert.ok([c.sub, c.client_id].includes(result.principal.id) && result.principal.id !== '');
          acceptedCount += 1;
        }),
        { numRuns: NUM_RUNS },
      );
      assert.ok(acceptedCount > NUM_RUNS / 100, `only ${acceptedCount} generated tokens were valid: the property would be vacuous`);
    });

    it('a tampered valid token is refused, or (base64url slack in the last character) still says exactly what was signed', async () => {
      const edit = fc.tuple(fc.nat(), base64urlChar, fc.nat(3));
      await fc.assert(
        fc.asyncProperty(edit, async ([at, char, drop]) => {
          const position = at % validToken.length;
          const tampered = validToken.slice(0, position) + char + validToken.slice(position + 1 + (drop === 3 ? 1 : 0));
          const result = await authenticator.authenticate({ headers: { authorization: `Bearer ${tampered}` } });
          if (result.outcome === 'authenticated') {
            assert.deepEqual(result.principal, { kind: 'token', id: TEST_SUBJECT, scopes: ['orders:read'] });
          } else {
            checkRefused(result, tampered);
          }
        }),
        { numRuns: NUM_RUNS },
      );
    });
  });
});
