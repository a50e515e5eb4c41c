import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createAttemptLimiter, type AttemptLimiterOptions } from '../../src/auth/attempt-limiter.js';
import { authenticate } from '../../src/auth/authenticate.js';
import { createBasicAuthenticator } from '../../src/auth/basic-authenticator.js';
import { basicAttempt, createLimitedAuthenticator, type LimitedAuthenticatorOptions } from '../../src/auth/limited-authenticator.js';
import { hashPassword, verifyPassword } from '../../src/auth/password-hash.js';
import type { AuthRequest, AuthResult, Authenticator } from '../../src/auth/principal.js';
import { parseUsersFile, type UsersDb } from '../../src/auth/users-file.js';

const basic = (credentials: string): string => `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
const login = (credentials: string, remoteAddress: string): AuthRequest => ({ headers: { authorization: basic(credentials) }, remoteAddress });

describe('limited authenticator', () => {
  let users: UsersDb;
  before(async () => {
    users = parseUsersFile(`alice:${await hashPassword('wonderland')}\n`, 'users.txt');
  });

  /** The real Basic authenticator (scrypt), counting its password verifications, behind a limiter on a test clock. */
  function setUp(limits: AttemptLimiterOptions = {}, opts: Omit<LimitedAuthenticatorOptions, 'limits'> = {}) {
    let time = 0;
    const verifications = { count: 0 };
    const inner = createBasicAuthenticator({
      users,
      realm: 'orders',
      cache: false,
      verifier: (password, encoded) => {
        verifications.count += 1;
        return verifyPassword(password, encoded);
      },
    });
    const limited = createLimitedAuthenticator(inner, { limits: { ...limits, now: () => time }, ...opts });
    return { limited, verifications, advance: (ms: number) => void (time += ms) };
  }

  it('answers limited without calling the inner authenticator (no scrypt) while the address is locked', async () => {
    const { limited, verifications, advance } = setUp({ maxFailuresPerAddress: 3 });
    for (let i = 0; i < 3; i += 1) assert.equal((await limited.authenticate(login(`guess${i}:wrong`, '192.0.2.7'))).outcome, 'rejected');
    assert.equal(verifications.count, 3);
    for (let i = 0; i < 5; i += 1) {
      assert.deepEqual(await limited.authenticate(login('alice:wonderland', '192.0.2.7')), {
        outcome: 'limited',
        retryAfterSec: 1,
        reason: 'too many failed attempts from this address',
      });
    }
    assert.equal(verifications.count, 3, 'nothing was verified while locked');
    advance(1_000);
    assert.deepEqual(await limited.authenticate(login('alice:wonderland', '192.0.2.7')), { outcome: 'authenticated', principal: { kind: 'user', id: 'alice' } });
    assert.equal(verifications.count, 4);
  });

  it("treats a new client's burst of parallel calls with the same credentials as one attempt: all pass, one verification", async () => {
    const { limited, verifications } = setUp();
    const results = await Promise.all(Array.from({ length: 64 }, () => limited.authenticate(login('alice:wonderland', '192.0.2.8'))));
    assert.ok(results.every((result) => result.outcome === 'authenticated'), JSON.stringify(results.map((r) => r.outcome)));
    assert.equal(verifications.count, 1);
  });

  it('still counts each different guess of a parallel burst', async () => {
    const { limited, verifications } = setUp({ maxFailuresPerAddress: 3 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => limited.authenticate(login(`alice:guess${i}`, '192.0.2.9'))));
    assert.equal(results.filter((result) => result.outcome === 'rejected').length, 3);
    assert.equal(results.filter((result) => result.outcome === 'limited').length, 17);
    assert.equal(verifications.count, 3);
  });

  it('counts ::ffff:192.0.2.7 and 192.0.2.7 as one source', async () => {
    const { limited, verifications } = setUp({ maxFailuresPerAddress: 4 });
    await limited.authenticate(login('a:wrong', '::ffff:192.0.2.7'));
    await limited.authenticate(login('b:wrong', '192.0.2.7'));
    await limited.authenticate(login('c:wrong', '::ffff:192.0.2.7'));
    await limited.authenticate(login('d:wrong', '192.0.2.7'));
    for (const address of ['192.0.2.7', '::ffff:192.0.2.7', '::FFFF:c000:207']) {
      assert.equal((await limited.authenticate(login('e:wrong', address))).outcome, 'limited', address);
    }
    assert.equal(verifications.count, 4);
  });

  it('gives Retry-After in whole seconds, rounded up', async () => {
    const { limited, advance } = setUp({ maxFailuresPerAddress: 1, lockBaseMs: 2_500 });
    await limited.authenticate(login('a:wrong', '192.0.2.7'));
    advance(1);
    const result = await limited.authenticate(login('a:wrong', '192.0.2.7'));
    assert.deepEqual(result, { outcome: 'limited', retryAfterSec: 3, reason: 'too many failed attempts from this address' });
  });

  it('locks a user name attacked from many addresses, but not for an address the user logged in from before', async () => {
    const { limited, verifications } = setUp();
    assert.equal((await limited.authenticate(login('alice:wonderland', '192.0.2.10'))).outcome, 'authenticated');
    for (let i = 1; i <= 5; i += 1) await limited.authenticate(login('alice:guess', `203.0.113.${i}`));
    const before = verifications.count;
    const elsewhere = await limited.authenticate(login('alice:wonderland', '203.0.113.77'));
    assert.deepEqual(elsewhere, { outcome: 'limited', retryAfterSec: 1, reason: 'too many failed attempts for this user name' });
    assert.equal(verifications.count, before);
    assert.deepEqual(await limited.authenticate(login('alice:wonderland', '192.0.2.10')), { outcome: 'authenticated', principal: { kind: 'user', id: 'alice' } });
  });

  it('does not count requests without credentials, and lets them through even from a locked address', async () => {
    const { limited } = setUp({ maxFailuresPerAddress: 1 });
    for (let i = 0; i < 5; i += 1) assert.deepEqual(await limited.authenticate({ headers: {}, remoteAddress: '192.0.2.7' }), { outcome: 'absent' });
    assert.equal((await limited.authenticate(login('alice:wrong', '192.0.2.7'))).outcome, 'rejected', 'the first failure is still admitted');
    assert.equal((await limited.authenticate(login('alice:wrong', '192.0.2.7'))).outcome, 'limited');
    assert.deepEqual(await limited.authenticate({ headers: {}, remoteAddress: '192.0.2.7' }), { outcome: 'absent' });
  });

  it('counts malformed Basic credentials as failures too', async () => {
    const { limited } = setUp({ maxFailuresPerAddress: 2 });
    assert.equal((await limited.authenticate({ headers: { authorization: 'Basic !!!' }, remoteAddress: '192.0.2.7' })).outcome, 'rejected');
    assert.equal((await limited.authenticate({ headers: { authorization: 'Basic !!!' }, remoteAddress: '192.0.2.7' })).outcome, 'rejected');
    assert.equal((await limited.authenticate({ headers: { authorization: 'Basic !!!' }, remoteAddress: '192.0.2.7' })).outcome, 'limited');
  });

  it('keeps the inner scheme and challenge', () => {
    const { limited } = setUp();
    assert.equal(limited.scheme, 'Basic');
    assert.equal(limited.challenge(), 'Basic realm="orders", charset="UTF-8"');
  });

  it('gives the place of an attempt whose authenticator threw back, so a bug cannot lock everyone out', async () => {
    let calls = 0;
    const throwing: Authenticator = {
      scheme: 'Broken',
      challenge: () => 'Broken',
      authenticate: async () => {
        calls += 1;
        throw new Error('bug');
      },
    };
    const limited = createLimitedAuthenticator(throwing, { limits: { maxFailuresPerAddress: 1 } });
    for (let i = 0; i < 5; i += 1) await assert.rejects(limited.authenticate(login('alice:x', '192.0.2.7')), /bug/);
    assert.equal(calls, 5);
  });

  it('in a chain with basicAttempt, limits Basic logins while a locked address may still use another scheme', async () => {
    const { limited } = setUp({ maxFailuresPerAddress: 1 }, { attemptOf: basicAttempt });
    const bearer: Authenticator = {
      scheme: 'Bearer',
      challenge: () => 'Bearer realm="orders"',
      authenticate: async (req): Promise<AuthResult> =>
        req.headers.authorization === 'Bearer good' ? { outcome: 'authenticated', principal: { kind: 'token', id: 'svc' } } : { outcome: 'absent' },
    };
    const chain = [limited, bearer];
    await authenticate(chain, login('alice:wrong', '192.0.2.7'));
    assert.equal((await authenticate(chain, login('alice:wonderland', '192.0.2.7'))).outcome, 'limited', 'the chain passes limited through');
    assert.deepEqual(await authenticate(chain, { headers: { authorization: 'Bearer good' }, remoteAddress: '192.0.2.7' }), {
      outcome: 'authenticated',
      principal: { kind: 'token', id: 'svc' },
    });
  });

  it('counts the failures of several wrappers together when they share a limiter', async () => {
    let time = 0;
    const limiter = createAttemptLimiter({ maxFailuresPerAddress: 2, now: () => time });
    const first = createLimitedAuthenticator(createBasicAuthenticator({ users, realm: 'a', cache: false }), { limiter });
    const second = createLimitedAuthenticator(createBasicAuthenticator({ users, realm: 'b', cache: false }), { limiter });
    await first.authenticate(login('x:wrong', '192.0.2.7'));
    await second.authenticate(login('y:wrong', '192.0.2.7'));
    assert.equal((await first.authenticate(login('alice:wonderland', '192.0.2.7'))).outcome, 'limited');
    time += 1_000;
    assert.equal((await second.authenticate(login('alice:wonderland', '192.0.2.7'))).outcome, 'authenticated');
  });

  it("forgets the trusted pairs of users a reload revoked: bob's old address no longer dodges his user name's lock", async () => {
    const limiter = createAttemptLimiter({ now: () => 0 });
    const listeners: ((change: { generation: number; users: number; revoked: string[] }) => void)[] = [];
    const source = { onChange: (listener: (typeof listeners)[number]) => (listeners.push(listener), () => undefined) };
    const bobUsers = parseUsersFile(`bob:${await hashPassword('builder')}\n`, 'users.txt');
    const inner = createBasicAuthenticator({ users: bobUsers, realm: 'orders', cache: false });
    const limited = createLimitedAuthenticator(inner, { limiter, attemptOf: basicAttempt, users: source });
    assert.equal((await limited.authenticate(login('bob:builder', '192.0.2.20'))).outcome, 'authenticated');
    for (let i = 1; i <= 5; i += 1) assert.equal((await limited.authenticate(login('bob:guess', `203.0.113.${i}`))).outcome, 'rejected');
    assert.equal((await limited.authenticate(login('bob:guess', '192.0.2.20'))).outcome, 'rejected', 'the trusted pair is not locked');

    for (const listener of listeners) listener({ generation: 1, users: 1, revoked: ['bob'] });
    assert.equal((await limited.authenticate(login('bob:guess', '192.0.2.20'))).outcome, 'limited', 'no trust left: the user lock applies');
  });
});
