import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffCeiling, backoffDelay } from '../../src/consul/backoff.js';

describe('backoff with full jitter', () => {
  it('doubles the ceiling per attempt from the base until the cap', () => {
    const options = { baseMs: 100, maxMs: 1000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((attempt) => backoffCeiling(attempt, options)),
      [100, 200, 400, 800, 1000, 1000],
    );
  });

  it('scales the ceiling by the random fraction (full jitter)', () => {
    const options = { baseMs: 100, maxMs: 1000 };
    assert.equal(backoffDelay(3, { ...options, random: () => 0 }), 0);
    assert.equal(backoffDelay(3, { ...options, random: () => 0.5 }), 200);
    assert.equal(backoffDelay(3, { ...options, random: () => 0.999 }), 399);
  });

  it('uses a 250 ms base and a 10 s cap by default', () => {
    assert.equal(backoffCeiling(1), 250);
    assert.equal(backoffCeiling(100), 10_000);
  });

  it('never goes below 0 nor above min(cap, base * 2^(attempt-1)), whatever the random source returns', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.double({ noNaN: true }),
        (attempt, baseMs, maxMs, fraction) => {
          const delay = backoffDelay(attempt, { baseMs, maxMs, random: () => fraction });
          assert.ok(Number.isInteger(delay));
          assert.ok(delay >= 0);
          assert.ok(delay <= Math.min(maxMs, baseMs * 2 ** (attempt - 1)));
        },
      ),
    );
  });

  it('has a ceiling that never shrinks as attempts grow', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 60_000 }), (attempt, baseMs, maxMs) => {
        assert.ok(backoffCeiling(attempt + 1, { baseMs, maxMs }) >= backoffCeiling(attempt, { baseMs, maxMs }));
      }),
    );
  });
});
