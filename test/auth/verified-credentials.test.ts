import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  createVerifiedCredentials,
  DEFAULT_VERIFIED_CREDENTIALS_MAX_ENTRIES,
  DEFAULT_VERIFIED_CREDENTIALS_TTL_MS,
} from '../../src/auth/verified-credentials.js';
import { isFarolError } from '../../src/errors.js';

const HASH = '$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA';
const OTHER_HASH = '$scrypt$ln=14,r=8,p=1$b3RoZXJzYWx0$b3RoZXJoYXNob3RoZXJoYXNob3RoZXJoYXNo';

function manualClock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('verified credentials cache', () => {
  it('has the documented defaults', () => {
    assert.equal(DEFAULT_VERIFIED_CREDENTIALS_MAX_ENTRIES, 10_000);
    assert.equal(DEFAULT_VERIFIED_CREDENTIALS_TTL_MS, 300_000);
  });

  it('hits only for the same user, password and current hash', () => {
    const cache = createVerifiedCredentials();
    assert.equal(cache.isVerified('alice', 'wonderland', HASH), false);
    cache.remember('alice', 'wonderland', HASH);
    assert.equal(cache.isVerified('alice', 'wonderland', HASH), true);
    assert.equal(cache.isVerified('alice', 'wonderlanD', HASH), false);
    assert.equal(cache.isVerified('alice', '', HASH), false);
    assert.equal(cache.isVerified('Alice', 'wonderland', HASH), false);
    assert.equal(cache.isVerified('bob', 'wonderland', HASH), false);
    assert.equal(cache.size, 1);
  });

  it('forgets an entry once the db holds another hash for the user (password changed)', () => {
    const cache = createVerifiedCredentials();
    cache.remember('alice', 'wonderland', HASH);
    assert.equal(cache.isVerified('alice', 'wonderland', OTHER_HASH), false);
    assert.equal(cache.size, 0, 'the stale entry is dropped');
    // Even if the old hash came back, the verification would have to be done again.
    assert.equal(cache.isVerified('alice', 'wonderland', HASH), false);
  });

  it('does not confuse a NUL inside the user name with the separator', () => {
    const cache = createVerifiedCredentials();
    cache.remember('a', 'b\u0000c', HASH);
    assert.equal(cache.isVerified('a\u0000b', 'c', HASH), false);
    assert.equal(cache.isVerified('a', 'b\u0000c', HASH), true, 'the genuine entry survives the confused lookup');
  });

  it('expires an entry ttlMs after the verification, and a hit does not extend it', () => {
    const clock = manualClock();
    const cache = createVerifiedCredentials({ ttlMs: 1_000, now: clock.now });
    cache.remember('alice', 'wonderland', HASH);
    clock.advance(600);
    assert.equal(cache.isVerified('alice', 'wonderland', HASH), true);
    clock.advance(399);
    assert.equal(cache.isVerified('alice', 'wonderland', HASH), true);
    clock.advance(1);
    assert.equal(cache.isVerified('alice', 'wonderland', HASH), false);
    assert.equal(cache.size, 0);
    cache.remember('alice', 'wonderland', HASH);
    assert.equal(cache.isVerified('alice', 'wonderland', HASH), true, 'a new verification starts a new TTL');
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = createVerifiedCredentials({ maxEntries: 3 });
    for (const user of ['u1', 'u2', 'u3']) cache.remember(user, 'pw', HASH);
    assert.equal(cache.isVerified('u1', 'pw', HASH), true); // u1 is now the most recently used
    cache.remember('u4', 'pw', HASH);
    assert.equal(cache.size, 3);
    assert.equal(cache.isVerified('u2', 'pw', HASH), false, 'u2 was the least recently used');
    for (const user of ['u1', 'u3', 'u4']) assert.equal(cache.isVerified(user, 'pw', HASH), true, user);
    cache.remember('u3', 'pw', HASH); // re-remembering does not add a second entry
    assert.equal(cache.size, 3);
    cache.clear();
    assert.equal(cache.size, 0);
  });

  it('stays bounded under many distinct successes', () => {
    const cache = createVerifiedCredentials({ maxEntries: 100 });
    for (let i = 0; i < 1_000; i += 1) cache.remember(`user${i}`, `pw${i}`, HASH);
    assert.equal(cache.size, 100);
    assert.equal(cache.isVerified('user899', 'pw899', HASH), false);
    assert.equal(cache.isVerified('user900', 'pw900', HASH), true);
  });

  it('refuses out-of-range options', () => {
    for (const opts of [{ maxEntries: 0 }, { maxEntries: 1.5 }, { maxEntries: -1 }, { ttlMs: 0 }, { ttlMs: Number.NaN }, { ttlMs: -5 }]) {
      assert.throws(() => createVerifiedCredentials(opts), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'), JSON.stringify(opts));
    }
  });

  it('uses a fresh key per cache, so entries are not portable between caches', () => {
    const first = createVerifiedCredentials();
    const second = createVerifiedCredentials();
    first.remember('alice', 'wonderland', HASH);
    assert.equal(second.isVerified('alice', 'wonderland', HASH), false);
  });

  it('never answers true for credentials that were not remembered with that hash', () => {
    const name = fc.string({ unit: 'binary', maxLength: 6 });
    const secret = fc.string({ unit: 'binary', maxLength: 6 });
    const hash = fc.constantFrom(HASH, OTHER_HASH);
    const remembered = fc.array(fc.tuple(name, secret, hash), { maxLength: 20 });
    const queries = fc.array(fc.tuple(name, secret, hash), { maxLength: 20 });
    fc.assert(
      fc.property(remembered, queries, fc.integer({ min: 1, max: 8 }), (stored, asked, maxEntries) => {
        const cache = createVerifiedCredentials({ maxEntries });
        const latest = new Map<string, string>();
        const id = (user: string, password: string): string => JSON.stringify([user, password]);
        for (const [user, password, storedHash] of stored) {
          cache.remember(user, password, storedHash);
          latest.set(id(user, password), storedHash);
        }
        assert.ok(cache.size <= maxEntries);
        for (const [user, password, currentHash] of [...asked, ...stored]) {
          if (cache.isVerified(user, password, currentHash)) {
            assert.equal(latest.get(id(user, password)), currentHash, `hit for ${id(user, password)} never remembered with that hash`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
