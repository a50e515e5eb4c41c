import assert from 'node:assert/strict';
import { randomBytes, randomUUID, generateKeyPairSync, createSecretKey } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { createJwtAuthenticator, type JwtAuthenticator, type JwtAuthenticatorOptions } from '../../src/auth/jwt-authenticator.js';
import type { AuthResult } from '../../src/auth/principal.js';
import { isFarolError } from '../../src/errors.js';
import { DEFAULT_SCOPES, startAuthorizationServer, type RunningAuthorizationServer } from '../support/authorization-server.js';
import {
  bearer,
  handmadeToken,
  jwksOf,
  makeSigningKey,
  nowSec,
  signToken,
  startJwksServer,
  TEST_AUDIENCE,
  TEST_ISSUER,
  TEST_REALM,
  TEST_SUBJECT,
  unhandledRejectionsDuring,
  unrelatedCaPem,
  type RunningJwksServer,
  type TestSigningKey,
} from './jwt-test-support.js';

const CHALLENGE = `Bearer realm="${TEST_REALM}"`;
const claimsOptions = { realm: TEST_REALM, issuer: TEST_ISSUER, audience: TEST_AUDIENCE };
const refusal = (reason: string): AuthResult => ({
  outcome: 'rejected',
  status: 401,
  reason,
  challenge: `${CHALLENGE}, error="invalid_token", error_description="${reason}"`,
});
const accepted = (id: string, scopes: string[] = []): AuthResult => ({ outcome: 'authenticated', principal: { kind: 'token', id, scopes } });

function assertConfigInvalid(make: () => unknown, message: RegExp): void {
  assert.throws(make, (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && message.test(error.message));
}

describe('JWT authenticator', () => {
  let es: TestSigningKey;
  let rsa: TestSigningKey;
  let other: TestSigningKey;
  let local: JwtAuthenticator;

  before(async () => {
    [es, rsa, other] = await Promise.all([makeSigningKey('ES256'), makeSigningKey('RS256'), makeSigningKey('ES256')]);
    local = createJwtAuthenticator({ ...claimsOptions, publicKey: es.publicPem });
  });

  describe('creation', () => {
    it('refuses the algorithm "none", whatever its case', () => {
      for (const alg of ['none', 'None', 'NONE']) {
        assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, publicKey: es.publicPem, algorithms: ['ES256', alg] }), /"none"/);
      }
    });

    it('refuses HS* with a public key, a JWKS or a JWKS URL (no key confusion)', () => {
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, publicKey: rsa.publicPem, algorithms: ['HS256'] }), /needs a shared secret/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, jwks: jwksOf(rsa), algorithms: ['RS256', 'HS256'] }), /needs a shared secret/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, jwksUrl: 'https://127.0.0.1:1/jwks', algorithms: ['HS512'] }), /needs a shared secret/);
    });

    it('refuses asymmetric algorithms with a secret, and a secret shorter than the hash', () => {
      const secret = randomBytes(64);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, secret, algorithms: ['HS256', 'RS256'] }), /cannot be verified with a shared secret/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, secret: 'short' }), /needs at least 32/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, secret: randomBytes(32), algorithms: ['HS512'] }), /needs at least 64/);
    });

    it('refuses unknown algorithms, an empty list, and a list the public key cannot verify', () => {
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, publicKey: es.publicPem, algorithms: ['ES257'] }), /unknown JWT algorithm/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, publicKey: es.publicPem, algorithms: [] }), /empty/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, publicKey: rsa.publicPem, algorithms: ['RS256', 'ES256'] }), /ES256 cannot verify/);
    });

    it('refuses a secret or symmetric JWK given as publicKey, and a short RSA key', () => {
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, publicKey: createSecretKey(randomBytes(32)) }), /secret key/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, publicKey: { kty: 'oct', k: randomBytes(32).toString('base64url') } }), /symmetric JWK/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, publicKey: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----' }), /cannot be read/);
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, publicKey }), /1024-bit RSA key/);
    });

    it('needs exactly one key source, and an https JWKS URL', () => {
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions } as JwtAuthenticatorOptions), /no JWT key source/);
      assertConfigInvalid(
        () => createJwtAuthenticator({ ...claimsOptions, publicKey: es.publicPem, jwks: jwksOf(es) } as unknown as JwtAuthenticatorOptions),
        /more than one JWT key source is configured \(publicKey, jwks\)/,
      );
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, jwksUrl: 'http://127.0.0.1:1/jwks' }), /is not https/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, jwksUrl: 'not a url' }), /is not a URL/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, jwks: { keys: 'nope' } as never }), /not a JSON Web Key Set/);
      assertConfigInvalid(
        () => createJwtAuthenticator({ ...claimsOptions, publicKey: es.publicPem, ca: 'pem' } as JwtAuthenticatorOptions),
        /ca only apply to a remote key set/,
      );
    });

    it('bounds the clock tolerance and the JWKS timings, and needs an issuer, an audience and a header-safe realm', () => {
      for (const clockToleranceSec of [-1, 301, Number.NaN, Infinity]) {
        assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, publicKey: es.publicPem, clockToleranceSec }), /clockToleranceSec/);
      }
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, jwksUrl: 'https://127.0.0.1:1/jwks', jwksCooldownMs: -1 }), /jwksCooldownMs/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, jwksUrl: 'https://127.0.0.1:1/jwks', jwksCacheMaxAgeMs: Number.NaN }), /jwksCacheMaxAgeMs/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, issuer: '', publicKey: es.publicPem }), /issuer/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, audience: [], publicKey: es.publicPem }), /audience/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, realm: 'a\r\nSet-Cookie: x', publicKey: es.publicPem }), /realm/);
      assertConfigInvalid(() => createJwtAuthenticator({ ...claimsOptions, realm: undefined as unknown as string, publicKey: es.publicPem }), /realm/);
    });
  });

  describe('results', () => {
    it('is absent without an Authorization header or with another scheme', async () => {
      assert.deepEqual(await local.authenticate({ headers: {} }), { outcome: 'absent' });
      assert.deepEqual(await local.authenticate({ headers: { authorization: 'Basic YWxpY2U6d29uZGVybGFuZA==' } }), { outcome: 'absent' });
      assert.deepEqual(await local.authenticate({ headers: { authorization: 'Negotiate abc' } }), { outcome: 'absent' });
    });

    it('offers the plain Bearer challenge', () => {
      assert.equal(local.scheme, 'Bearer');
      assert.equal(local.challenge(), CHALLENGE);
    });

    it('rejects a malformed Bearer header with 400 invalid_request', async () => {
      for (const authorization of ['Bearer', 'Bearer a b', 'bearer {json}', `Bearer ${'a'.repeat(9000)}`, ['Bearer a.b.c', 'Bearer a.b.c']]) {
        const result = await local.authenticate({ headers: { authorization } });
        assert.equal(result.outcome, 'rejected');
        if (result.outcome !== 'rejected') continue;
        assert.equal(result.status, 400);
        assert.equal(result.challenge, `${CHALLENGE}, error="invalid_request"`);
        assert.match(result.reason, /^malformed Bearer credentials: /);
      }
    });

    it('rejects a b64token that is not a JWT as a malformed token (401)', async () => {
      for (const token of ['abc', 'a.b.c', 'a.b.c.d.e', `${'x'.repeat(20)}.${'y'.repeat(20)}.`]) {
        assert.deepEqual(await local.authenticate(bearer(token)), refusal('malformed token'), token);
      }
    });

    it('accepts a valid token as a token principal named by sub', async () => {
      assert.deepEqual(await local.authenticate(bearer(await signToken(es))), accepted(TEST_SUBJECT));
    });

    it('names the principal by client_id, then azp, when there is no sub', async () => {
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { sub: undefined, client_id: 'cli' } }))), accepted('cli'));
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { sub: undefined, azp: 'party' } }))), accepted('party'));
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { sub: '', client_id: 'cli' } }))), accepted('cli'));
    });

    it('rejects a token that names neither sub nor client_id', async () => {
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { sub: undefined } }))), refusal('token names no subject'));
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { sub: 42 } }))), refusal('token names no subject'));
    });

    it('accepts any of several issuers and an aud list that contains the audience', async () => {
      const auth = createJwtAuthenticator({ ...claimsOptions, issuer: ['https://a.test', TEST_ISSUER], publicKey: es.publicJwk });
      assert.deepEqual(await auth.authenticate(bearer(await signToken(es, { claims: { aud: ['x', TEST_AUDIENCE] } }))), accepted(TEST_SUBJECT));
      assert.deepEqual(await auth.authenticate(bearer(await signToken(es, { claims: { iss: 'https://a.test' } }))), accepted(TEST_SUBJECT));
    });

    it('verifies with a local JWKS, choosing the key by kid', async () => {
      const auth = createJwtAuthenticator({ ...claimsOptions, jwks: jwksOf(es, other, rsa) });
      assert.deepEqual(await auth.authenticate(bearer(await signToken(es))), accepted(TEST_SUBJECT));
      assert.deepEqual(await auth.authenticate(bearer(await signToken(other))), accepted(TEST_SUBJECT));
      assert.deepEqual(await auth.authenticate(bearer(await signToken(rsa))), accepted(TEST_SUBJECT));
      assert.deepEqual(await auth.authenticate(bearer(await signToken(es, { header: { kid: 'nobody' } }))), refusal('no matching signing key'));
      // Without a kid: fine when one key fits the alg, refused when several do (no trying each in turn).
      assert.deepEqual(await auth.authenticate(bearer(await signToken(rsa, { header: { kid: undefined } }))), accepted(TEST_SUBJECT));
      assert.deepEqual(await auth.authenticate(bearer(await signToken(other, { header: { kid: undefined } }))), refusal('ambiguous signing key'));
    });

    it('verifies HS256 with a configured secret, and nothing else with it', async () => {
      const secret = randomBytes(32);
      const auth = createJwtAuthenticator({ ...claimsOptions, secret });
      assert.deepEqual(await auth.authenticate(bearer(await signToken(secret))), accepted(TEST_SUBJECT));
      assert.deepEqual(await auth.authenticate(bearer(await signToken(randomBytes(32)))), refusal('bad signature'));
      assert.deepEqual(await auth.authenticate(bearer(await signToken(es))), refusal('algorithm not allowed'));
    });

    it('narrows the default algorithms to the key: an ES256 key refuses an RS256 token by its alg', async () => {
      assert.deepEqual(await local.authenticate(bearer(await signToken(rsa))), refusal('algorithm not allowed'));
    });
  });

  describe('security', () => {
    it('refuses an expired token', async () => {
      const token = await signToken(es, { claims: { iat: nowSec() - 600, exp: nowSec() - 120 } });
      assert.deepEqual(await local.authenticate(bearer(token)), refusal('token expired'));
    });

    it('refuses a token whose nbf is in the future beyond the tolerance', async () => {
      const token = await signToken(es, { claims: { nbf: nowSec() + 120 } });
      assert.deepEqual(await local.authenticate(bearer(token)), refusal('token not yet valid'));
    });

    it('accepts exp and nbf within the clock tolerance, and not beyond it', async () => {
      const justExpired = await signToken(es, { claims: { exp: nowSec() - 10 } });
      const almostValid = await signToken(es, { claims: { nbf: nowSec() + 10 } });
      assert.deepEqual(await local.authenticate(bearer(justExpired)), accepted(TEST_SUBJECT));
      assert.deepEqual(await local.authenticate(bearer(almostValid)), accepted(TEST_SUBJECT));
      const strict = createJwtAuthenticator({ ...claimsOptions, publicKey: es.publicPem, clockToleranceSec: 0 });
      assert.deepEqual(await strict.authenticate(bearer(justExpired)), refusal('token expired'));
      assert.deepEqual(await strict.authenticate(bearer(almostValid)), refusal('token not yet valid'));
    });

    it('refuses a token for another audience', async () => {
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { aud: 'https://payments.service.consul' } }))), refusal('unexpected audience'));
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { aud: undefined } }))), refusal('token has no audience'));
    });

    it('refuses a token from another issuer', async () => {
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { iss: 'https://evil.test' } }))), refusal('unexpected issuer'));
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { iss: undefined } }))), refusal('token has no issuer'));
    });

    it('refuses an unsigned token (alg "none")', async () => {
      const claims = { iss: TEST_ISSUER, aud: TEST_AUDIENCE, sub: TEST_SUBJECT, exp: nowSec() + 300 };
      for (const alg of ['none', 'None', 'NONE']) {
        const token = handmadeToken({ alg, typ: 'JWT' }, claims);
        assert.deepEqual(await local.authenticate(bearer(token)), refusal('algorithm not allowed'), alg);
        assert.deepEqual(await createJwtAuthenticator({ ...claimsOptions, secret: randomBytes(32) }).authenticate(bearer(token)), refusal('algorithm not allowed'));
      }
    });

    it('refuses an HS256 token signed with the RS256 public key as the secret (key confusion)', async () => {
      const forged = await new SignJWT({ sub: 'admin', scope: 'everything' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(TEST_ISSUER)
        .setAudience(TEST_AUDIENCE)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(rsa.publicPem));
      for (const auth of [
        createJwtAuthenticator({ ...claimsOptions, publicKey: rsa.publicPem }),
        createJwtAuthenticator({ ...claimsOptions, publicKey: rsa.publicJwk }),
        createJwtAuthenticator({ ...claimsOptions, jwks: jwksOf(rsa) }),
      ]) {
        assert.deepEqual(await auth.authenticate(bearer(forged)), refusal('algorithm not allowed'));
      }
    });

    it('refuses a token signed by another key', async () => {
      assert.deepEqual(await local.authenticate(bearer(await signToken(other))), refusal('bad signature'));
      // Another key claiming the trusted key's kid.
      const auth = createJwtAuthenticator({ ...claimsOptions, jwks: jwksOf(es) });
      assert.deepEqual(await auth.authenticate(bearer(await signToken(other, { header: { kid: es.kid } }))), refusal('bad signature'));
    });

    it('refuses a token without exp', async () => {
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { exp: undefined } }))), refusal('token has no expiry'));
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { exp: 'tomorrow' } }))), refusal('invalid claims'));
    });

    it('reads scopes from scope (a space-separated string)', async () => {
      const token = await signToken(es, { claims: { scope: 'orders:read  orders:write' } });
      assert.deepEqual(await local.authenticate(bearer(token)), accepted(TEST_SUBJECT, ['orders:read', 'orders:write']));
    });

    it('reads scopes from scp (a list, or a string)', async () => {
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { scp: ['orders:read', 'admin'] } }))), accepted(TEST_SUBJECT, ['orders:read', 'admin']));
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { scp: 'orders:read admin' } }))), accepted(TEST_SUBJECT, ['orders:read', 'admin']));
      assert.deepEqual(
        await local.authenticate(bearer(await signToken(es, { claims: { scope: 'a b', scp: ['b', 'c'] } }))),
        accepted(TEST_SUBJECT, ['a', 'b', 'c']),
      );
    });

    it('refuses a scope claim that is neither a string nor a list of strings', async () => {
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { scope: ['a', 1] } }))), refusal('invalid scope claim'));
      assert.deepEqual(await local.authenticate(bearer(await signToken(es, { claims: { scp: { admin: true } } }))), refusal('invalid scope claim'));
    });

    it('never echoes the token or its claims in the reason or challenge', async () => {
      const marker = 'ZZ-marker-ZZ';
      const tokens = [
        await signToken(es, { claims: { iss: marker, sub: marker } }),
        await signToken(es, { claims: { aud: marker } }),
        await signToken(other, { claims: { sub: marker } }),
        await signToken(es, { claims: { exp: nowSec() - 999, sub: marker } }),
        handmadeToken({ alg: marker }, { sub: marker }),
        handmadeToken({ alg: 'ES256', crit: [marker], [marker]: 1 }, { sub: marker }),
      ];
      for (const token of tokens) {
        const result = await local.authenticate(bearer(token));
        assert.equal(result.outcome, 'rejected');
        if (result.outcome !== 'rejected') continue;
        for (const text of [result.reason, result.challenge]) {
          assert.ok(!text.includes(marker) && !text.includes(token), text);
        }
      }
    });
  });

  describe('remote JWKS over verified TLS', () => {
    const servers: RunningJwksServer[] = [];
    const authenticators: JwtAuthenticator[] = [];
    const remote = (server: RunningJwksServer, extra: Partial<JwtAuthenticatorOptions> = {}): JwtAuthenticator => {
      const auth = createJwtAuthenticator({ ...claimsOptions, jwksUrl: server.url, ca: server.caPem, ...extra } as JwtAuthenticatorOptions);
      authenticators.push(auth);
      return auth;
    };
    const serve = async (...keys: TestSigningKey[]): Promise<RunningJwksServer> => {
      const server = await startJwksServer({ kind: 'jwks', jwks: jwksOf(...keys) });
      servers.push(server);
      return server;
    };
    const unknownKid = (): Promise<string> => signToken(es, { header: { kid: randomUUID() } });

    after(async () => {
      await Promise.all(authenticators.map((auth) => auth.close()));
      await Promise.all(servers.map((server) => server.close()));
    });

    it('fetches the keys once and serves later tokens from the cache', async () => {
      const server = await serve(es, rsa);
      const auth = remote(server);
      assert.equal(server.requests, 0, 'nothing is fetched before the first token');
      for (let round = 0; round < 5; round += 1) {
        assert.deepEqual(await auth.authenticate(bearer(await signToken(round % 2 === 0 ? es : rsa))), accepted(TEST_SUBJECT));
      }
      assert.equal(server.requests, 1);
    });

    it('an unknown kid triggers exactly one refetch, then the token is refused', async () => {
      const server = await serve(es);
      const auth = remote(server, { jwksCooldownMs: 0 });
      assert.deepEqual(await auth.authenticate(bearer(await signToken(es))), accepted(TEST_SUBJECT));
      assert.equal(server.requests, 1);
      assert.deepEqual(await auth.authenticate(bearer(await unknownKid())), refusal('no matching signing key'));
      assert.equal(server.requests, 2);
    });

    it('accepts a token with a rotated-in kid without recreating the authenticator, and drops the rotated-out key', async () => {
      const next = await makeSigningKey('ES256');
      const server = await serve(es);
      const cooldownMs = 150;
      const auth = remote(server, { jwksCooldownMs: cooldownMs });
      assert.deepEqual(await auth.authenticate(bearer(await signToken(es))), accepted(TEST_SUBJECT));
      server.setKeys(jwksOf(next));
      // Within the cooldown the cached set still answers: the new kid is unknown and nothing is fetched.
      assert.deepEqual(await auth.authenticate(bearer(await signToken(next))), refusal('no matching signing key'));
      assert.equal(server.requests, 1);
      await sleep(cooldownMs + 50);
      assert.deepEqual(await auth.authenticate(bearer(await signToken(next))), accepted(TEST_SUBJECT));
      assert.equal(server.requests, 2);
      assert.deepEqual(await auth.authenticate(bearer(await signToken(es))), refusal('no matching signing key'));
      assert.equal(server.requests, 2);
    });

    it('a flood of unknown kids within the cooldown fetches nothing more', async () => {
      const server = await serve(es);
      const auth = remote(server, { jwksCooldownMs: 60_000 });
      assert.deepEqual(await auth.authenticate(bearer(await signToken(es))), accepted(TEST_SUBJECT));
      const concurrent = await Promise.all(Array.from({ length: 250 }, async () => auth.authenticate(bearer(await unknownKid()))));
      for (const result of concurrent) assert.deepEqual(result, refusal('no matching signing key'));
      for (let i = 0; i < 250; i += 1) assert.deepEqual(await auth.authenticate(bearer(await unknownKid())), refusal('no matching signing key'));
      assert.equal(server.requests, 1);
    });

    it('a flood of unknown kids over several cooldowns fetches at most once per cooldown', async () => {
      const server = await serve(es);
      const cooldownMs = 100;
      const auth = remote(server, { jwksCooldownMs: cooldownMs });
      assert.deepEqual(await auth.authenticate(bearer(await signToken(es))), accepted(TEST_SUBJECT));
      const started = performance.now();
      let sent = 0;
      while (performance.now() - started < 5 * cooldownMs) {
        const batch = await Promise.all(Array.from({ length: 20 }, async () => auth.authenticate(bearer(await unknownKid()))));
        for (const result of batch) assert.deepEqual(result, refusal('no matching signing key'));
        sent += batch.length;
        await sleep(10);
      }
      const elapsed = performance.now() - started;
      const refetches = server.requests - 1;
      assert.ok(refetches >= 1, 'a refetch happens once the cooldown is over');
      assert.ok(refetches <= Math.floor(elapsed / cooldownMs) + 1, `${refetches} refetches for ${sent} tokens in ${elapsed.toFixed(0)} ms`);
    });

    it('answers "signing keys unavailable" when the JWKS server is unreachable, with no unhandled rejection', async () => {
      const gone = await startJwksServer({ kind: 'jwks', jwks: jwksOf(es) });
      await gone.close();
      const keyErrors: Error[] = [];
      const auth = remote(gone, { onKeysError: (error) => keyErrors.push(error) });
      const token = await signToken(es);
      const unhandled = await unhandledRejectionsDuring(async () => {
        const results = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(bearer(token))));
        for (let i = 0; i < 20; i += 1) results.push(await auth.authenticate(bearer(token)));
        for (const result of results) assert.deepEqual(result, refusal('signing keys unavailable'));
      });
      assert.deepEqual(unhandled, []);
      assert.equal(keyErrors.length, 1, 'concurrent requests share one fetch, and later ones wait out the backoff');
      assert.match(keyErrors[0]?.message ?? '', /ECONNREFUSED/);
    });

    it('answers "signing keys unavailable" when the JWKS server returns garbage', async () => {
      const garbage = [
        { kind: 'raw', status: 200, body: 'this is not json' },
        { kind: 'raw', status: 200, body: '{"keys":"nope"}' },
        { kind: 'raw', status: 200, body: '[1,2,3]' },
        { kind: 'raw', status: 200, body: `{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","kid":"${es.kid}"}]}` },
        { kind: 'raw', status: 500, body: 'oops' },
        { kind: 'raw', status: 302, body: '' },
        { kind: 'raw', status: 200, body: JSON.stringify({ keys: [es.publicJwk], padding: 'x'.repeat(2 * 1024 * 1024) }) },
      ] as const;
      const token = await signToken(es);
      const unhandled = await unhandledRejectionsDuring(async () => {
        for (const behaviour of garbage) {
          const server = await startJwksServer(behaviour);
          servers.push(server);
          const result = await remote(server).authenticate(bearer(token));
          assert.deepEqual(result, refusal('signing keys unavailable'), `${behaviour.status} ${behaviour.body.slice(0, 60)}`);
        }
      });
      assert.deepEqual(unhandled, []);
    });

    it('refuses a JWKS server whose certificate the configured CA did not issue (and the system CAs by default)', async () => {
      const server = await serve(es);
      const token = await signToken(es);
      const keyErrors: Error[] = [];
      const wrongCa = remote(server, { ca: await unrelatedCaPem(), onKeysError: (error) => keyErrors.push(error) });
      assert.deepEqual(await wrongCa.authenticate(bearer(token)), refusal('signing keys unavailable'));
      assert.match(keyErrors[0]?.message ?? '', /UNABLE_TO_VERIFY|CERT/);
      const systemCas = remote(server, { ca: undefined });
      assert.deepEqual(await systemCas.authenticate(bearer(token)), refusal('signing keys unavailable'));
      assert.equal(server.requests, 0, 'no request reached the server over an unverified connection');
    });

    it('gives up on a JWKS server that does not answer, after the timeout', async () => {
      const server = await startJwksServer({ kind: 'hang' });
      servers.push(server);
      const auth = remote(server, { jwksTimeoutMs: 200 });
      assert.deepEqual(await auth.authenticate(bearer(await signToken(es))), refusal('signing keys unavailable'));
    });

    it('recovers once the JWKS server is back, without recreating the authenticator', async () => {
      const server = await startJwksServer({ kind: 'raw', status: 503, body: 'down' });
      servers.push(server);
      const auth = remote(server, { jwksCooldownMs: 50 });
      const token = await signToken(es);
      assert.deepEqual(await auth.authenticate(bearer(token)), refusal('signing keys unavailable'));
      server.setKeys(jwksOf(es));
      await sleep(100);
      assert.deepEqual(await auth.authenticate(bearer(token)), accepted(TEST_SUBJECT));
    });
  });

  describe('against a real OAuth2 server (oidc-provider)', () => {
    let as: RunningAuthorizationServer;
    let auth: JwtAuthenticator;

    before(async () => {
      as = await startAuthorizationServer();
      auth = createJwtAuthenticator({ realm: TEST_REALM, issuer: as.issuer, audience: as.audience, jwksUrl: as.jwksUri, ca: as.ca, jwksCooldownMs: 0 });
    });

    after(async () => {
      await auth.close();
      await as.stop();
    });

    it('accepts its client-credentials access tokens, named by client_id, with their scopes', async () => {
      const { accessToken } = await as.issueToken({ scope: DEFAULT_SCOPES.join(' ') });
      const result = await auth.authenticate(bearer(accessToken));
      assert.equal(result.outcome, 'authenticated');
      if (result.outcome !== 'authenticated') return;
      assert.equal(result.principal.kind, 'token');
      assert.equal(result.principal.id, as.clients[0]?.clientId);
      assert.deepEqual([...(result.principal.scopes ?? [])].sort(), [...DEFAULT_SCOPES].sort());
    });

    it('follows its key rotation, and keeps accepting tokens while the server is down thanks to the cache', async () => {
      const before = (await as.issueToken()).accessToken;
      await as.rotateKeys({ previous: 'keep' });
      const after = (await as.issueToken()).accessToken;
      assert.equal((await auth.authenticate(bearer(after))).outcome, 'authenticated');
      assert.equal((await auth.authenticate(bearer(before))).outcome, 'authenticated');
      await as.suspend();
      try {
        assert.equal((await auth.authenticate(bearer(after))).outcome, 'authenticated');
      } finally {
        await as.resume();
      }
    });

    it('refuses its tokens for another audience, and expired ones', async () => {
      const now = nowSec();
      const wrongAudience = await as.signToken({ aud: 'https://payments.service.consul', client_id: 'x', exp: now + 60 });
      const expired = await as.signToken({ aud: as.audience, client_id: 'x', iat: now - 600, exp: now - 300 });
      assert.deepEqual(await auth.authenticate(bearer(wrongAudience)), refusal('unexpected audience'));
      assert.deepEqual(await auth.authenticate(bearer(expired)), refusal('token expired'));
    });
  });
});
