import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createBasicAuthenticator } from '../../src/auth/basic-authenticator.js';
import { hashPassword } from '../../src/auth/password-hash.js';
import type { AuthResult, Authenticator } from '../../src/auth/principal.js';
import { parseUsersFile } from '../../src/auth/users-file.js';
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
