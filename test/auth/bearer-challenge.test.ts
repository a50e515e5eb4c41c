import assert from 'node:assert/strict';
import { validateHeaderValue } from 'node:http';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bearerChallenge, quotedString, sanitizeDescription } from '../../src/auth/bearer-challenge.js';
import { JWT_REJECTION_REASONS } from '../../src/auth/jwt-authenticator.js';
import { isFarolError } from '../../src/errors.js';

/**
 * A strict reader of one challenge (RFC 9110 section 11: auth-scheme 1*SP #auth-param, each
 * value a token or a quoted-string), independent of the code under test. Throws on anything else.
 */
function parseChallenge(value: string): { scheme: string; params: Record<string, string> } {
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
  const scheme = TOKEN.exec(value)?.[0];
  if (scheme === undefined) throw new Error(`no auth-scheme in ${value}`);
  const params: Record<string, string> = {};
  let at = scheme.length;
  if (at === value.length) return { scheme, params };
  if (value[at] !== ' ') throw new Error('expected SP after the scheme');
  while (value[at] === ' ') at += 1;
  for (;;) {
    const name = TOKEN.exec(value.slice(at))?.[0];
    if (name === undefined) throw new Error(`expected a parameter name at ${at}`);
    at += name.length;
    if (value[at] !== '=') throw new Error(`expected "=" at ${at}`);
    at += 1;
    let text = '';
    if (value[at] === '"') {
      at += 1;
      for (;;) {
        const char = value[at];
        if (char === undefined) throw new Error('unterminated quoted-string');
        if (char === '"') break;
        if (char === '\\') {
          const escaped = value[at + 1];
          if (escaped === undefined || !/[\t\x20-\x7e\x80-\xff]/.test(escaped)) throw new Error('bad quoted-pair');
          text += escaped;
          at += 2;
          continue;
        }
        if (!/[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]/.test(char)) throw new Error(`bad qdtext ${JSON.stringify(char)}`);
        text += char;
        at += 1;
      }
      at += 1;
    } else {
      const token = TOKEN.exec(value.slice(at))?.[0];
      if (token === undefined) throw new Error(`expected a token or quoted-string at ${at}`);
      text = token;
      at += token.length;
    }
    if (name.toLowerCase() in params) throw new Error(`parameter ${name} repeated`);
    params[name.toLowerCase()] = text;
    if (at === value.length) return { scheme, params };
    if (value.slice(at, at + 2) !== ', ') throw new Error(`expected ", " at ${at}`);
    at += 2;
  }
}

// RFC 6750 section 3: error_description and scope use these characters only (no escapes).
const DESCRIPTION = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const headerText = fc.string({ unit: fc.constantFrom(...'\t', ...Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)), ...Array.from({ length: 0x80 }, (_, i) => String.fromCharCode(0x80 + i))), maxLength: 80 });

describe('bearerChallenge', () => {
  it('writes the plain challenge, the error, the description and the scope', () => {
    assert.equal(bearerChallenge({ realm: 'orders' }), 'Bearer realm="orders"');
    assert.equal(bearerChallenge({ realm: 'orders', error: 'invalid_request' }), 'Bearer realm="orders", error="invalid_request"');
    assert.equal(
      bearerChallenge({ realm: 'orders', error: 'invalid_token', description: 'token expired' }),
      'Bearer realm="orders", error="invalid_token", error_description="token expired"',
    );
    assert.equal(
      bearerChallenge({ realm: 'orders', error: 'insufficient_scope', scope: ['orders:read', 'orders:write'] }),
      'Bearer realm="orders", error="insufficient_scope", scope="orders:read orders:write"',
    );
  });

  it('escapes double quotes and backslashes in the realm as a quoted-string', () => {
    const value = bearerChallenge({ realm: 'say "hi" \\ bye' });
    assert.equal(value, 'Bearer realm="say \\"hi\\" \\\\ bye"');
    assert.deepEqual(parseChallenge(value), { scheme: 'Bearer', params: { realm: 'say "hi" \\ bye' } });
    assert.equal(quotedString('"'), '"\\""');
  });

  it('reduces a description to the characters RFC 6750 allows, at most 200 of them', () => {
    assert.equal(sanitizeDescription('say "hi" \\ bye'), "say 'hi' / bye");
    assert.equal(sanitizeDescription('line\r\nSet-Cookie: x=1'), 'line??Set-Cookie: x=1');
    assert.equal(sanitizeDescription('clé 🔑'), 'cl? ?');
    assert.equal(sanitizeDescription('x'.repeat(500)).length, 200);
  });

  it('throws CONFIG_INVALID for a realm or scope that cannot be written into the header', () => {
    for (const realm of ['a\r\nSet-Cookie: x=1', 'a\nb', 'nul\x00', 'euro €', 'del\x7f']) {
      assert.throws(() => bearerChallenge({ realm }), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'), JSON.stringify(realm));
    }
    for (const scope of ['a b', 'a"b', 'a\\b', '', 'é']) {
      assert.throws(() => bearerChallenge({ realm: 'r', error: 'insufficient_scope', scope: [scope] }), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'));
    }
  });

  it('every challenge of the JWT authenticator is a valid header value', () => {
    for (const reason of JWT_REJECTION_REASONS) {
      const value = bearerChallenge({ realm: 'orders', error: 'invalid_token', description: reason });
      validateHeaderValue('WWW-Authenticate', value);
      assert.deepEqual(parseChallenge(value).params, { realm: 'orders', error: 'invalid_token', error_description: reason });
    }
  });

  it('any header-safe realm gives a valid header value that reads back as the same realm', () => {
    fc.assert(
      fc.property(headerText, (realm) => {
        const value = bearerChallenge({ realm, error: 'invalid_token', description: 'token expired' });
        validateHeaderValue('WWW-Authenticate', value);
        assert.deepEqual(parseChallenge(value), { scheme: 'Bearer', params: { realm, error: 'invalid_token', error_description: 'token expired' } });
      }),
      { numRuns: 5_000 },
    );
  });

  it('any description, full Unicode included, gives a valid header value within RFC 6750', () => {
    const description = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'binary-ascii', maxLength: 300 }), headerText);
    fc.assert(
      fc.property(description, (text) => {
        const value = bearerChallenge({ realm: 'orders', error: 'invalid_token', description: text });
        validateHeaderValue('WWW-Authenticate', value);
        const written = parseChallenge(value).params.error_description;
        if (text === '') return assert.equal(written, undefined);
        assert.ok(written !== undefined && DESCRIPTION.test(written) && written.length <= 200);
        if (DESCRIPTION.test(text) && text.length <= 200) assert.equal(written, text);
      }),
      { numRuns: 5_000 },
    );
  });
});
