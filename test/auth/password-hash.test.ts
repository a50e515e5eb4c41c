import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeHash, hashPassword, parseEncodedHash, verifyPassword } from '../../src/auth/password-hash.js';

describe('password hashes', () => {
  let aliceHash = '';
  before(async () => {
    aliceHash = await hashPassword('correct horse battery staple');
  });

  it('encodes salt and hash as $scrypt$ln=14,r=8,p=1$<16-byte salt>$<32-byte hash>', () => {
    assert.match(aliceHash, /^\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    const parsed = parseEncodedHash(aliceHash);
    assert.equal(parsed?.salt.length, 16);
    assert.equal(parsed?.hash.length, 32);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    assert.equal(await verifyPassword('correct horse battery staple', aliceHash), true);
    assert.equal(await verifyPassword('correct horse battery stapl', aliceHash), false);
    assert.equal(await verifyPassword('', aliceHash), false);
  });

  it('hashes UTF-8 and empty passwords', async () => {
    const unicode = await hashPassword('pässwörd 🔑');
    assert.equal(await verifyPassword('pässwörd 🔑', unicode), true);
    assert.equal(await verifyPassword('passwörd 🔑', unicode), false);
    const empty = await hashPassword('');
    assert.equal(await verifyPassword('', empty), true);
    assert.equal(await verifyPassword(' ', empty), false);
  });

  it('uses a fresh salt every time, so equal passwords give different hashes', async () => {
    const again = await hashPassword('correct horse battery staple');
    assert.notEqual(again, aliceHash);
    assert.notDeepEqual(parseEncodedHash(again)?.salt, parseEncodedHash(aliceHash)?.salt);
    assert.equal(await verifyPassword('correct horse battery staple', again), true);
  });

  it('reads the cost parameters from the encoding', async () => {
    const salt = randomBytes(16);
    const hash = scryptSync('pw', salt, 32, { N: 2 ** 10, r: 4, p: 2 });
    const encoded = encodeHash({ logN: 10, r: 4, p: 2, salt, hash });
    assert.equal(encoded.startsWith('$scrypt$ln=10,r=4,p=2$'), true);
    assert.equal(await verifyPassword('pw', encoded), true);
    assert.equal(await verifyPassword('pw', encoded.replace('ln=10', 'ln=11')), false);
  });

  it('refuses tampered encodings without throwing', async () => {
    const [, , params, salt, hash] = aliceHash.split('$') as [string, string, string, string, string];
    const flip = (text: string, at: number): string => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    const tampered = [
      `$scrypt$${params}$${salt}$${flip(hash, 5)}`,
      `$scrypt$${params}$${flip(salt, 3)}$${hash}`,
      `$scrypt$${params.replace('r=8', 'r=9')}$${salt}$${hash}`,
      `$scrypt$${params}$${salt}$${hash.slice(0, 20)}`, // under the 16-byte minimum (a longer prefix of an scrypt output is itself a valid output)
      `$scrypt$${params}$${salt}$${hash}=`,
      `$scrypt$${params}$${salt}==$${hash}`,
      `$scrypt$${params}$${salt}$${hash}$`,
      `$scrypt$${params}$${salt}`,
      `$argon2id$${params}$${salt}$${hash}`,
      ` ${aliceHash}`,
      '',
      'correct horse battery staple',
    ];
    for (const encoded of tampered) {
      assert.equal(await verifyPassword('correct horse battery staple', encoded), false, encoded);
    }
  });

  it('refuses absurd cost parameters at once instead of running them', async () => {
    const [, , , salt, hash] = aliceHash.split('$') as [string, string, string, string, string];
    const absurd = ['ln=30,r=8,p=1', 'ln=20,r=32,p=1', 'ln=14,r=99,p=1', 'ln=14,r=8,p=99', 'ln=18,r=8,p=16', 'ln=0,r=8,p=1', 'ln=14,r=0,p=1', 'ln=14,r=8,p=0', 'ln=014,r=8,p=1'];
    const started = performance.now();
    for (const params of absurd) {
      const encoded = `$scrypt$${params}$${salt}$${hash}`;
      assert.equal(parseEncodedHash(encoded), undefined, params);
      assert.equal(await verifyPassword('correct horse battery staple', encoded), false, params);
    }
    // Any one of these, if run, would take seconds or gigabytes; refusing all of them takes microseconds.
    assert.ok(performance.now() - started < 1000);
  });

  it('never throws on arbitrary encodings', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 200 }), async (encoded) => {
        assert.equal(await verifyPassword('pw', encoded), false);
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses any single-character change to a valid encoding', async () => {
    const position = fc.nat(aliceHash.length - 1);
    const replacement = fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 });
    await fc.assert(
      fc.asyncProperty(position, replacement, async (at, char) => {
        const mutated = aliceHash.slice(0, at) + char + aliceHash.slice(at + 1);
        fc.pre(mutated !== aliceHash);
        assert.equal(await verifyPassword('correct horse battery staple', mutated), false);
      }),
      { numRuns: 60 },
    );
  });
});
