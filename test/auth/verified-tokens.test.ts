import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Principal } from '../../src/auth/principal.js';
import { createVerifiedTokens } from '../../src/auth/verified-tokens.js';
import { isFarolError } from '../../src/errors.js';

const caller: Principal = { kind: 'token', id: 'billing', scopes: ['orders:read'] };

function clock(start = 1_800_000_000_000) {
  let time = start;
  return { now: () => time, advance: (ms: number) => void (time += ms) };
}

describe('verified tokens (the JWT verification cache)', () => {
  it('answers for a remembered token until it expires', () => {
    const { now, advance } = clock();
    const cache = createVerifiedTokens({ now });
    cache.remember('token-a', caller, now() + 30_000);
    assert.deepEqual(cache.lookup('token-a'), caller);
    assert.equal(cache.lookup('token-b'), undefined);
    advance(29_999);
    assert.deepEqual(cache.lookup('token-a'), caller);
    advance(1);
    assert.equal(cache.lookup('token-a'), undefined, 'expired: the token must be verified again (and refused)');
  });

  it('keeps a long-lived token for at most maxAgeMs, so a key removed from the JWKS stops counting soon', () => {
    const { now, advance } = clock();
    const cache = createVerifiedTokens({ now, maxAgeMs: 60_000 });
    cache.remember('token-a', caller, now() + 3_600_000);
    advance(59_999);
    assert.ok(cache.lookup('token-a'));
    advance(1);
    assert.equal(cache.lookup('token-a'), undefined);
  });

  it('does not remember a token that has already expired', () => {
    const { now } = clock();
    const cache = createVerifiedTokens({ now });
    cache.remember('token-a', caller, now());
    assert.equal(cache.size, 0);
  });

  it('drops the least recently used token beyond maxEntries', () => {
    const { now } = clock();
    const cache = createVerifiedTokens({ now, maxEntries: 2 });
    cache.remember('a', caller, now() + 10_000);
    cache.remember('b', caller, now() + 10_000);
    cache.lookup('a');
    cache.remember('c', caller, now() + 10_000);
    assert.equal(cache.size, 2);
    assert.ok(cache.lookup('a'));
    assert.equal(cache.lookup('b'), undefined);
    assert.ok(cache.lookup('c'));
  });

  it('hands out a principal that a handler cannot change for the next request', () => {
    const { now } = clock();
    const cache = createVerifiedTokens({ now });
    cache.remember('a', { kind: 'token', id: 'x', scopes: ['read'] }, now() + 10_000);
    const principal = cache.lookup('a')!;
    assert.throws(() => (principal.scopes as string[]).push('admin'));
    assert.throws(() => ((principal as { id: string }).id = 'admin'));
    assert.deepEqual(cache.lookup('a'), { kind: 'token', id: 'x', scopes: ['read'] });
  });

  it('property: never answers for a token it was not given, nor after its expiry', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 2, maxLength: 20 }), fc.integer({ min: 1, max: 120_000 }), (tokens, lifetime) => {
        const { now, advance } = clock();
        const cache = createVerifiedTokens({ now });
        const [unseen, ...seen] = tokens;
        for (const token of seen) cache.remember(token, caller, now() + lifetime);
        assert.equal(cache.lookup(unseen!), undefined);
        for (const token of seen) assert.ok(cache.lookup(token));
        advance(Math.min(lifetime, 60_000));
        for (const token of seen) assert.equal(cache.lookup(token), undefined);
      }),
    );
  });

  it('refuses bounds that make no sense, at creation', () => {
    for (const bad of [{ maxEntries: 0 }, { maxEntries: 1.5 }, { maxAgeMs: 0 }, { maxAgeMs: Number.NaN }]) {
      assert.throws(() => createVerifiedTokens(bad), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'), JSON.stringify(bad));
    }
  });
});
