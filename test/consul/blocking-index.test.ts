import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { nextBlockingIndex, sanitizeIndex } from '../../src/consul/blocking-index.js';

const anyReturnedIndex = fc.oneof(
  fc.nat(),
  fc.integer({ min: -1000, max: -1 }),
  fc.double(),
  fc.constantFrom(undefined, null, '17', Number.MAX_SAFE_INTEGER + 2),
);

describe('blocking query index rules (Consul docs, "Blocking Queries")', () => {
  it('delivers the first answer and blocks on its index next', () => {
    assert.deepEqual(nextBlockingIndex(0, 42), { index: 42, changed: true, reset: false });
  });

  it('does not deliver an answer whose index did not move (a wait timeout or idempotent write)', () => {
    assert.deepEqual(nextBlockingIndex(42, 42), { index: 42, changed: false, reset: false });
  });

  it('moves forward when the index rises', () => {
    assert.deepEqual(nextBlockingIndex(42, 57), { index: 57, changed: true, reset: false });
  });

  it('resets to 0 when the index goes backwards, restarting the loop', () => {
    assert.deepEqual(nextBlockingIndex(57, 12), { index: 0, changed: false, reset: true });
  });

  it('treats an index of 0 as 1 so the next request really blocks', () => {
    assert.deepEqual(nextBlockingIndex(0, 0), { index: 1, changed: true, reset: false });
    assert.deepEqual(nextBlockingIndex(1, 0), { index: 1, changed: false, reset: false });
  });

  it('treats a missing or malformed index like 0, hence 1', () => {
    for (const returned of [undefined, null, Number.NaN, -5, 3.5, '17', Number.POSITIVE_INFINITY]) {
      assert.equal(sanitizeIndex(returned), 1, String(returned));
    }
  });

  it('a non-reset step never goes below the previous index nor below 1; a reset always goes to exactly 0', () => {
    fc.assert(
      fc.property(fc.nat(), anyReturnedIndex, (previous, returned) => {
        const step = nextBlockingIndex(previous, returned);
        if (step.reset) {
          assert.equal(step.index, 0);
          assert.equal(step.changed, false);
        } else {
          assert.ok(step.index >= 1);
          assert.ok(step.index >= previous);
          assert.equal(step.changed, step.index !== previous);
        }
      }),
    );
  });

  it('resets exactly when the sanitized index is lower than the previous one', () => {
    fc.assert(
      fc.property(fc.nat(), anyReturnedIndex, (previous, returned) => {
        assert.equal(nextBlockingIndex(previous, returned).reset, sanitizeIndex(returned) < previous);
      }),
    );
  });

  it('always delivers the first answer after a (re)start from 0', () => {
    fc.assert(
      fc.property(anyReturnedIndex, (returned) => {
        const step = nextBlockingIndex(0, returned);
        assert.equal(step.changed, true);
        assert.equal(step.reset, false);
      }),
    );
  });

  it('keeps a sequence of answers from ever producing a busy loop: after any non-reset answer the index is ≥ 1', () => {
    fc.assert(
      fc.property(fc.array(anyReturnedIndex, { maxLength: 50 }), (answers) => {
        let index = 0;
        for (const returned of answers) {
          const step = nextBlockingIndex(index, returned);
          assert.ok(step.reset || step.index >= 1);
          index = step.index;
        }
      }),
    );
  });
});
