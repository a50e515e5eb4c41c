import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAuthorization } from '../../src/auth/authorization-header.js';
import { basicCredentials, bearerCredentials } from '../../src/auth/credentials.js';
import { isFarolError } from '../../src/errors.js';

describe('credential providers', () => {
  it('basicCredentials gives a header value the server side parses back', async () => {
    const value = await basicCredentials('José', 'pa:ss wörd').authorization();
    assert.equal(value, `Basic ${Buffer.from('José:pa:ss wörd', 'utf8').toString('base64')}`);
    assert.deepEqual(parseAuthorization(value), { scheme: 'basic', username: 'José', password: 'pa:ss wörd' });
  });

  it('basicCredentials refuses a user name containing ":"', () => {
    assert.throws(
      () => basicCredentials('ali:ce', 'pw'),
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && /cannot contain ":"/.test(error.message),
    );
  });

  it('bearerCredentials gives "Bearer <token>"', async () => {
    assert.equal(await bearerCredentials('eyJhbGciOi.payload.sig').authorization(), 'Bearer eyJhbGciOi.payload.sig');
  });

  it('bearerCredentials refuses an empty token or one that would break the header, without quoting it', () => {
    for (const token of ['', 'secret-token\n', 'two words', 'quo"te']) {
      assert.throws(
        () => bearerCredentials(token),
        (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && (token === '' || !error.message.includes(token.trim())),
      );
    }
  });
});
