import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createBasicAuthenticator } from '../../src/auth/basic-authenticator.js';
import { hashPassword, verifyPassword } from '../../src/auth/password-hash.js';
import type { AuthResult, Authenticator } from '../../src/auth/principal.js';
import { parseUsersFile, type UsersDb } from '../../src/auth/users-file.js';
import type { VerifiedCredentialsOptions } from '../../src/auth/verified-credentials.js';
import { isFarolError } from '../../src/errors.js';

const basic = (credentials: string): string => `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
const CHALLENGE = 'Basic realm="orders", charset="UTF-8"';

describe('basic authenticator', () => {
  let authenticator: Authenticator;
  const login = (authorization?: string | string[]): Promise<AuthResult> => authenticator.authenticate({ headers: { authorization } });

  before(async () => {
    const text = `# test users\nalice:${await hashPassword('wonderland')}\nJosé:${await hashPassword('pässwörd:🔑')}\n`;
    authenticator = createBasicAuthenticator({ users: parseUsersFile(text, 'users.txt'), realm: 'orders' });
  });

  it('accepts the right password with a user principal', async () => {
    assert.deepEqual(await login(basic('alice:wonderland')), { outcome: 'authenticated', principal: { kind: 'user', id: 'alice' } });
    assert.deepEqual(await login(basic('José:pässwörd:🔑')), { outcome: 'authenticated', principal: { kind: 'user', id: 'José' } });
  });

  it('rejects a wrong password with 401 and a Basic challenge', async () => {
    assert.deepEqual(await login(basic('alice:wonderlanD')), {
      outcome: 'rejected',
      status: 401,
      reason: 'bad credentials',
      challenge: CHALLENGE,
      username: 'alice',
    });
  });

  it('rejects an unknown user exactly like a wrong password', async () => {
    assert.deepEqual(await login(basic('mallory:wonderland')), {
      outcome: 'rejected',
      status: 401,
      reason: 'bad credentials',
      challenge: CHALLENGE,
      username: 'mallory',
    });
    assert.deepEqual(await login(basic(':wonderland')), { outcome: 'rejected', status: 401, reason: 'bad credentials', challenge: CHALLENGE, username: '' });
  });

  it('spends scrypt work on an unknown user too, so timing does not reveal who exists', async () => {
    const fastest = async (authorization: string): Promise<number> => {
      let best = Infinity;
      for (let run = 0; run < 3; run += 1) {
        const started = performance.now();
        await login(authorization);
        best = Math.min(best, performance.now() - started);
      }
      return best;
    };
    const knownUser = await fastest(basic('alice:wrong'));
    const unknownUser = await fastest(basic('nobody:wrong'));
    assert.ok(unknownUser > knownUser / 4, `unknown user took ${unknownUser.toFixed(1)} ms, known user ${knownUser.toFixed(1)} ms`);
  });

  it('rejects malformed Basic credentials with 400 and the challenge, without throwing', async () => {
    for (const header of ['Basic', 'Basic !!!', 'basic YWxpY2U=', 'Basic YWI6Yw', `Basic ${'A'.repeat(9000)}`]) {
      const result = await login(header);
      assert.equal(result.outcome, 'rejected', header);
      if (result.outcome !== 'rejected') continue;
      assert.equal(result.status, 400);
      assert.equal(result.challenge, CHALLENGE);
      assert.match(result.reason, /^malformed Basic credentials: /);
      assert.equal(result.username, undefined);
    }
  });

  it('rejects more than one Authorization header as malformed', async () => {
    const result = await login([basic('alice:wonderland'), basic('alice:wonderland')]);
    assert.deepEqual(result, { outcome: 'rejected', status: 400, reason: 'malformed Basic credentials: more than one Authorization header', challenge: CHALLENGE });
  });

  it('answers absent when there is no Authorization header or another scheme', async () => {
    assert.deepEqual(await authenticator.authenticate({ headers: {} }), { outcome: 'absent' });
    for (const header of ['Bearer abc.def', 'Digest username="alice"', 'Bearer not a token', '']) {
      assert.deepEqual(await login(header), { outcome: 'absent' }, header);
    }
  });

  it('quotes and escapes the realm in its challenge', () => {
    const users = parseUsersFile('', 'users.txt');
    const quoted = createBasicAuthenticator({ users, realm: 'say "hi" \\ bye' });
    assert.equal(quoted.scheme, 'Basic');
    assert.equal(quoted.challenge(), 'Basic realm="say \\"hi\\" \\\\ bye", charset="UTF-8"');
  });

  it('refuses at creation a realm that cannot go into a header', () => {
    const users = parseUsersFile('', 'users.txt');
    for (const realm of ['line\nbreak', 'nul\u0000', 'snow ☃']) {
      assert.throws(() => createBasicAuthenticator({ users, realm }), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'));
    }
  });

  it('never throws, whatever the header, and only the right password authenticates', async () => {
    const username = fc.oneof(fc.constant('alice'), fc.string({ unit: 'binary', maxLength: 12 }).filter((name) => !name.includes(':')));
    const password = fc.oneof(fc.constant('wonderland'), fc.string({ unit: 'binary', maxLength: 12 }));
    const validBasic = fc.tuple(username, password).map(([user, pass]) => ({ user, pass, header: basic(`${user}:${pass}`) }));
    const anyHeader = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'binary-ascii', maxLength: 60 }));
    const nearBasic = fc.tuple(fc.mixedCase(fc.constant('basic')), fc.constantFrom('', ' ', '  '), fc.oneof(fc.base64String({ maxLength: 40 }), anyHeader)).map((parts) => parts.join(''));
    const header = fc.oneof(validBasic, anyHeader.map((text) => ({ header: text })), nearBasic.map((text) => ({ header: text })));
    await fc.assert(
      fc.asyncProperty(header, async (generated) => {
        const result = await login(generated.header);
        const expectAuthenticated = 'user' in generated && generated.user === 'alice' && generated.pass === 'wonderland';
        assert.equal(result.outcome === 'authenticated', expectAuthenticated);
        if (result.outcome === 'rejected') {
          assert.ok(result.status === 400 || result.status === 401);
          assert.equal(result.challenge, CHALLENGE);
        }
      }),
      { numRuns: 200 },
    );
  });
});

/** A users db the test can change between requests, as a reload would. */
function mutableUsers(entries: Record<string, string> = {}): UsersDb & { set(name: string, hash: string): void; remove(name: string): void } {
  const hashes = new Map(Object.entries(entries));
  return {
    lookup: (name) => hashes.get(name),
    names: () => [...hashes.keys()],
    set: (name, hash) => void hashes.set(name, hash),
    remove: (name) => void hashes.delete(name),
  };
}

/** The real scrypt verifier, counting its calls. */
function countingVerifier(): { verify: (password: string, encoded: string) => Promise<boolean>; readonly calls: number } {
  let calls = 0;
  return {
    verify: (password, encoded) => {
      calls += 1;
      return verifyPassword(password, encoded);
    },
    get calls() {
      return calls;
    },
  };
}

describe('basic authenticator: cache of successful verifications', () => {
  let aliceHash: string;
  let newAliceHash: string;

  before(async () => {
    aliceHash = await hashPassword('wonderland');
    newAliceHash = await hashPassword('looking-glass');
  });

  const setUp = (cache?: VerifiedCredentialsOptions | false) => {
    const users = mutableUsers({ alice: aliceHash });
    const verifier = countingVerifier();
    const authenticator = createBasicAuthenticator({ users, realm: 'orders', verifier: verifier.verify, ...(cache === undefined ? {} : { cache }) });
    const login = (credentials: string): Promise<AuthResult> => authenticator.authenticate({ headers: { authorization: basic(credentials) } });
    return { users, verifier, login };
  };
  const ALICE = { outcome: 'authenticated', principal: { kind: 'user', id: 'alice' } };

  it('verifies the right password with scrypt once, then answers from the cache', async () => {
    const { verifier, login } = setUp();
    assert.deepEqual(await login('alice:wonderland'), ALICE);
    assert.equal(verifier.calls, 1);
    for (let i = 0; i < 5; i += 1) assert.deepEqual(await login('alice:wonderland'), ALICE);
    assert.equal(verifier.calls, 1, 'no scrypt for the repeated right password');
  });

  it('still rejects a wrong password after a cached success, at the cost of a full verification each time', async () => {
    const { verifier, login } = setUp();
    await login('alice:wonderland');
    // (Not 'wonderland\u0000': scrypt's PBKDF2-HMAC zero-pads short passwords, so scrypt itself accepts it.)
    for (const wrong of ['wonderlanD', 'wonderland ', '', 'Wonderland', 'wonderland\u0001']) {
      const before = verifier.calls;
      const result = await login(`alice:${wrong}`);
      assert.equal(result.outcome, 'rejected', wrong);
      assert.equal(verifier.calls, before + 1, `a failed login is never cached (${JSON.stringify(wrong)})`);
    }
    const before = verifier.calls;
    await login('alice:wonderlanD');
    assert.equal(verifier.calls, before + 1, 'the same wrong password again is verified again');
  });

  it('spends a verification on every unknown-user login, also with the password of a cached user', async () => {
    const { verifier, login } = setUp();
    await login('alice:wonderland');
    for (let i = 0; i < 3; i += 1) {
      const before = verifier.calls;
      assert.equal((await login('mallory:wonderland')).outcome, 'rejected');
      assert.equal(verifier.calls, before + 1);
    }
  });

  it('stops accepting the old password as soon as the db holds a new hash', async () => {
    const { users, verifier, login } = setUp();
    await login('alice:wonderland');
    users.set('alice', newAliceHash);
    assert.equal((await login('alice:wonderland')).outcome, 'rejected');
    assert.deepEqual(await login('alice:looking-glass'), ALICE);
    const before = verifier.calls;
    assert.deepEqual(await login('alice:looking-glass'), ALICE);
    assert.equal(verifier.calls, before, 'the new password is cached in turn');
  });

  it('stops accepting a removed user at once', async () => {
    const { users, login } = setUp();
    await login('alice:wonderland');
    users.remove('alice');
    assert.equal((await login('alice:wonderland')).outcome, 'rejected');
    users.set('alice', aliceHash);
    assert.deepEqual(await login('alice:wonderland'), ALICE, 'back in the db, the password verifies again');
  });

  it('verifies again once the TTL has passed (injected clock)', async () => {
    let time = 0;
    const { verifier, login } = setUp({ ttlMs: 60_000, now: () => time });
    await login('alice:wonderland');
    time = 59_999;
    await login('alice:wonderland');
    assert.equal(verifier.calls, 1);
    time = 60_000;
    assert.deepEqual(await login('alice:wonderland'), ALICE);
    assert.equal(verifier.calls, 2);
  });

  it('verifies every request with cache: false', async () => {
    const { verifier, login } = setUp(false);
    await login('alice:wonderland');
    await login('alice:wonderland');
    assert.equal(verifier.calls, 2);
  });

  it('refuses out-of-range cache options at creation', () => {
    assert.throws(
      () => createBasicAuthenticator({ users: mutableUsers(), realm: 'orders', cache: { maxEntries: 0 } }),
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID'),
    );
  });

  it('never turns a wrong password into a success, whatever the history of logins, changes, removals and time', async () => {
    // A fast stand-in for scrypt with the same contract: a hash "matches" exactly one password.
    const fakeHash = (password: string, version: number): string => `fake$${version}$${JSON.stringify(password)}`;
    const fakeVerify = async (password: string, encoded: string): Promise<boolean> => encoded.endsWith(`$${JSON.stringify(password)}`) && encoded.startsWith('fake$');
    const user = fc.constantFrom('alice', 'bob', 'carol');
    const password = fc.constantFrom('p1', 'p2', 'p3', '', 'p1 ');
    const command = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('login' as const), user, password }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), user, password }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), user }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2_000 }) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(command, { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), async (commands, maxEntries) => {
        let time = 0;
        let version = 0;
        const truth = new Map<string, string>(); // user -> current password
        const users = mutableUsers();
        const authenticator = createBasicAuthenticator({ users, realm: 'orders', verifier: fakeVerify, cache: { maxEntries, ttlMs: 1_000, now: () => time } });
        for (const step of commands) {
          if (step.kind === 'set') {
            truth.set(step.user, step.password);
            users.set(step.user, fakeHash(step.password, (version += 1)));
          } else if (step.kind === 'remove') {
            truth.delete(step.user);
            users.remove(step.user);
          } else if (step.kind === 'advance') {
            time += step.ms;
          } else {
            const result = await authenticator.authenticate({ headers: { authorization: basic(`${step.user}:${step.password}`) } });
            assert.equal(result.outcome === 'authenticated', truth.get(step.user) === step.password, JSON.stringify(step));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
