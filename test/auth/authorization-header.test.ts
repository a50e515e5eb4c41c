import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_AUTHORIZATION_LENGTH, parseAuthorization, parseRequestAuthorization } from '../../src/auth/authorization-header.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const SCHEMES = new Set(['basic', 'bearer', 'other', 'malformed']);

describe('parseAuthorization', () => {
  describe('Basic credentials', () => {
    it('decodes a user name and password', () => {
      assert.deepEqual(parseAuthorization(`Basic ${b64('alice:s3cret')}`), { scheme: 'basic', username: 'alice', password: 's3cret' });
    });

    it('decodes UTF-8 user names and passwords', () => {
      assert.deepEqual(parseAuthorization(`Basic ${b64('José:pässwörd ✓ 🔑')}`), {
        scheme: 'basic',
        username: 'José',
        password: 'pässwörd ✓ 🔑',
      });
    });

    it('splits at the first colon, so a password may contain colons', () => {
      assert.deepEqual(parseAuthorization(`Basic ${b64('bob:a:b::c')}`), { scheme: 'basic', username: 'bob', password: 'a:b::c' });
    });

    it('accepts an empty user name and an empty password', () => {
      assert.deepEqual(parseAuthorization(`Basic ${b64(':pw')}`), { scheme: 'basic', username: '', password: 'pw' });
      assert.deepEqual(parseAuthorization(`Basic ${b64('carol:')}`), { scheme: 'basic', username: 'carol', password: '' });
    });

    it('treats the scheme case-insensitively', () => {
      for (const scheme of ['basic', 'BASIC', 'bAsIc']) {
        assert.deepEqual(parseAuthorization(`${scheme} ${b64('alice:pw')}`), { scheme: 'basic', username: 'alice', password: 'pw' });
      }
    });

    it('accepts several spaces after the scheme and surrounding whitespace', () => {
      assert.deepEqual(parseAuthorization(`Basic     ${b64('alice:pw')}`), { scheme: 'basic', username: 'alice', password: 'pw' });
      assert.deepEqual(parseAuthorization(` \tBasic ${b64('alice:pw')} \t`), { scheme: 'basic', username: 'alice', password: 'pw' });
    });

    it('reads a scheme glued to its credentials as a different scheme, or as malformed when that is not a token', () => {
      assert.deepEqual(parseAuthorization(`Basic${b64('alice:pw1')}`), { scheme: 'other', name: `Basic${b64('alice:pw1')}` });
      const glued = `Basic${b64('ab:c')}`; // ends in "==", which is not a token character
      assert.equal(glued.endsWith('=='), true);
      assert.equal(parseAuthorization(glued)?.scheme, 'malformed');
    });

    it('rejects a missing credential', () => {
      assert.deepEqual(parseAuthorization('Basic'), { scheme: 'malformed', reason: 'Basic credentials are missing', name: 'Basic' });
      assert.deepEqual(parseAuthorization('Basic    '), { scheme: 'malformed', reason: 'Basic credentials are missing', name: 'Basic' });
    });

    it('rejects characters outside base64, including the base64url alphabet', () => {
      for (const credentials of ['!!!!', 'YW Jj', 'YWI6-w==', 'YWI6_w==', 'YWI6Yw==;']) {
        const parsed = parseAuthorization(`Basic ${credentials}`);
        assert.equal(parsed?.scheme, 'malformed', credentials);
      }
    });

    it('rejects base64 without its padding', () => {
      assert.equal(b64('ab:c'), 'YWI6Yw==');
      assert.deepEqual(parseAuthorization('Basic YWI6Yw'), { scheme: 'malformed', reason: 'Basic credentials are not padded base64', name: 'Basic' });
      assert.equal(parseAuthorization('Basic YWI6Yw=')?.scheme, 'malformed');
      assert.equal(parseAuthorization('Basic YWI6Yw===')?.scheme, 'malformed');
    });

    it('rejects non-canonical base64 whose padding bits are set', () => {
      assert.deepEqual(parseAuthorization('Basic YWI6Yx=='), { scheme: 'malformed', reason: 'Basic credentials are not canonical base64', name: 'Basic' });
    });

    it('rejects credentials that are not UTF-8', () => {
      const latin1 = Buffer.from([0x4a, 0x6f, 0x73, 0xe9, 0x3a, 0x70]).toString('base64'); // "José:p" in ISO-8859-1
      assert.deepEqual(parseAuthorization(`Basic ${latin1}`), { scheme: 'malformed', reason: 'Basic credentials are not valid UTF-8', name: 'Basic' });
    });

    it('rejects credentials without a colon', () => {
      assert.deepEqual(parseAuthorization(`Basic ${b64('alice')}`), {
        scheme: 'malformed',
        reason: 'Basic credentials have no ":" between user name and password',
        name: 'Basic',
      });
    });

    it('rejects text after the credentials', () => {
      assert.equal(parseAuthorization(`Basic ${b64('alice:pw')} extra`)?.scheme, 'malformed');
      assert.equal(parseAuthorization(`Basic ${b64('alice:pw')}, realm="x"`)?.scheme, 'malformed');
    });

    it(`rejects a header longer than ${MAX_AUTHORIZATION_LENGTH} characters without decoding it`, () => {
      const long = `Basic ${b64(`alice:${'x'.repeat(MAX_AUTHORIZATION_LENGTH)}`)}`;
      assert.deepEqual(parseAuthorization(long), {
        scheme: 'malformed',
        reason: `header is longer than ${MAX_AUTHORIZATION_LENGTH} characters`,
        name: 'Basic',
      });
    });
  });

  describe('Bearer tokens', () => {
    it('returns the token', () => {
      assert.deepEqual(parseAuthorization('Bearer abc.DEF-123_x~y+z/=='), { scheme: 'bearer', token: 'abc.DEF-123_x~y+z/==' });
      assert.deepEqual(parseAuthorization('bearer   tok'), { scheme: 'bearer', token: 'tok' });
    });

    it('rejects a missing token and characters outside the b64token syntax', () => {
      assert.deepEqual(parseAuthorization('Bearer'), { scheme: 'malformed', reason: 'Bearer token is missing', name: 'Bearer' });
      for (const token of ['a b', 'ab=c', 'tok"en', 'tök']) {
        assert.deepEqual(parseAuthorization(`Bearer ${token}`), { scheme: 'malformed', reason: 'Bearer token is not a b64token (RFC 6750)', name: 'Bearer' });
      }
    });
  });

  describe('other input', () => {
    it('returns undefined for an absent header', () => {
      assert.equal(parseAuthorization(undefined), undefined);
    });

    it('names other schemes without interpreting them', () => {
      assert.deepEqual(parseAuthorization('Digest username="alice", realm="r"'), { scheme: 'other', name: 'Digest' });
      assert.deepEqual(parseAuthorization('Negotiate'), { scheme: 'other', name: 'Negotiate' });
    });

    it('rejects an empty header and one that does not start with a scheme', () => {
      assert.deepEqual(parseAuthorization(''), { scheme: 'malformed', reason: 'header is empty' });
      assert.deepEqual(parseAuthorization(' \t '), { scheme: 'malformed', reason: 'header is empty' });
      assert.deepEqual(parseAuthorization('"Basic" abc'), { scheme: 'malformed', reason: 'header does not start with an authentication scheme' });
    });
  });

  describe('properties', () => {
    const checkTotal = (value: string): void => {
      const parsed = parseAuthorization(value);
      assert.ok(parsed !== undefined && SCHEMES.has(parsed.scheme));
    };

    it('never throws on arbitrary strings, ASCII or full Unicode', () => {
      fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (value) => checkTotal(value)), { numRuns: 10_000 });
      fc.assert(fc.property(fc.string({ unit: 'binary-ascii', maxLength: 300 }), (value) => checkTotal(value)), { numRuns: 10_000 });
    });

    it('never throws on near-valid headers', () => {
      const scheme = fc.oneof(
        { weight: 4, arbitrary: fc.mixedCase(fc.constantFrom('basic', 'bearer')) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 8 }) },
      );
      const separator = fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('', ' ', '  ', '\t', ' \t ') },
        { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(' ', '\t', '\r', '\n'), maxLength: 4 }) },
      );
      const credentialsBase64 = fc
        .tuple(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom(':', ''), fc.string({ unit: 'binary', maxLength: 20 }))
        .map((parts) => b64(parts.join('')));
      const validBase64 = fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes).toString('base64'));
      const mutatedBase64 = fc
        .tuple(validBase64, fc.nat(200), fc.string({ unit: 'binary-ascii', maxLength: 3 }), fc.nat(3))
        .map(([text, at, insert, drop]) => text.slice(0, at % (text.length + 1)) + insert + text.slice((at % (text.length + 1)) + drop));
      const payload = fc.oneof(credentialsBase64, validBase64, mutatedBase64, fc.base64String({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }));
      const gap = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(' ', '   ') }, { weight: 1, arbitrary: separator });
      const header = fc.tuple(separator, scheme, gap, payload, separator).map((parts) => parts.join(''));
      fc.assert(fc.property(header, (value) => checkTotal(value)), { numRuns: 10_000 });
    });

    it('never throws on oversized headers and always calls them malformed', () => {
      const oversized = fc
        .tuple(fc.constantFrom('Basic ', 'Bearer ', '', ' '), fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 20 }))
        .map(([prefix, unit]) => prefix + unit.repeat(Math.ceil((MAX_AUTHORIZATION_LENGTH + 1) / unit.length)));
      fc.assert(
        fc.property(oversized, (value) => assert.equal(parseAuthorization(value)?.scheme, 'malformed')),
        { numRuns: 200 },
      );
    });

    it('round-trips any user name without ":" and any password through Basic', () => {
      const username = fc.string({ unit: 'binary', maxLength: 200 }).filter((name) => !name.includes(':'));
      const password = fc.string({ unit: 'binary', maxLength: 200 });
      const scheme = fc.mixedCase(fc.constant('basic'));
      const spaces = fc.integer({ min: 1, max: 5 }).map((count) => ' '.repeat(count));
      fc.assert(
        fc.property(scheme, spaces, username, password, (name, gap, user, pass) => {
          assert.deepEqual(parseAuthorization(`${name}${gap}${b64(`${user}:${pass}`)}`), { scheme: 'basic', username: user, password: pass });
        }),
        { numRuns: 10_000 },
      );
    });

    it('round-trips any b64token through Bearer', () => {
      const token = fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,100}={0,3}$/);
      fc.assert(
        fc.property(token, (value) => assert.deepEqual(parseAuthorization(`Bearer ${value}`), { scheme: 'bearer', token: value })),
        { numRuns: 10_000 },
      );
    });
  });
});

describe('parseRequestAuthorization', () => {
  it('finds the header whatever the case of its name', () => {
    assert.deepEqual(parseRequestAuthorization({ headers: { Authorization: `Basic ${b64('a:b')}` } }), { scheme: 'basic', username: 'a', password: 'b' });
    assert.deepEqual(parseRequestAuthorization({ headers: { authorization: [`Bearer t`] } }), { scheme: 'bearer', token: 't' });
  });

  it('returns undefined when there is no Authorization header', () => {
    assert.equal(parseRequestAuthorization({ headers: { host: 'example' } }), undefined);
    assert.equal(parseRequestAuthorization({ headers: { authorization: undefined } }), undefined);
  });

  it('calls more than one Authorization header malformed, attributed to the first scheme', () => {
    assert.deepEqual(parseRequestAuthorization({ headers: { authorization: [`Basic ${b64('a:b')}`, 'Bearer t'] } }), {
      scheme: 'malformed',
      reason: 'more than one Authorization header',
      name: 'Basic',
    });
  });
});
