import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { authenticate } from '../../src/auth/authenticate.js';
import { createBasicAuthenticator } from '../../src/auth/basic-authenticator.js';
import { hashPassword } from '../../src/auth/password-hash.js';
import type { Authenticator } from '../../src/auth/principal.js';
import { parseUsersFile } from '../../src/auth/users-file.js';
import { isFarolError } from '../../src/errors.js';

const basic = (credentials: string): string => `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;

describe('authenticate (the chain)', () => {
  let chain: Authenticator[] = [];

  before(async () => {
    const first = parseUsersFile(`alice:${await hashPassword('a-pw')}\n`, 'first.txt');
    const second = parseUsersFile(`bob:${await hashPassword('b-pw')}\n`, 'second.txt');
    chain = [createBasicAuthenticator({ users: first, realm: 'first' }), createBasicAuthenticator({ users: second, realm: 'second' })];
  });

  it('lets the first authenticator that sees its kind of credentials decide', async () => {
    assert.deepEqual(await authenticate(chain, { headers: { authorization: basic('alice:a-pw') } }), {
      outcome: 'authenticated',
      principal: { kind: 'user', id: 'alice' },
    });
    const bob = await authenticate(chain, { headers: { authorization: basic('bob:b-pw') } });
    assert.equal(bob.outcome, 'rejected', 'the first Basic authenticator decides; the second is not asked');
  });

  it('rejects with 401 and every challenge when no authenticator finds credentials', async () => {
    const challenge = 'Basic realm="first", charset="UTF-8", Basic realm="second", charset="UTF-8"';
    const expected = { outcome: 'rejected', status: 401, reason: 'no credentials', challenge };
    assert.deepEqual(await authenticate(chain, { headers: {} }), expected);
    assert.deepEqual(await authenticate(chain, { headers: { authorization: 'Bearer abc' } }), expected);
  });

  it('refuses to run without any authenticator', async () => {
    await assert.rejects(authenticate([], { headers: {} }), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'));
  });
});
