import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decideRetry, isRetryableOutcome, type RetryFacts, type TryOutcome } from '../../src/client/retry-decision.js';

const methods = fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'POST', 'PATCH', 'get', 'post');
const outcomes: fc.Arbitrary<TryOutcome> = fc.oneof(
  fc.record({ kind: fc.constant('response' as const), status: fc.integer({ min: 100, max: 599 }), retryAfterMs: fc.option(fc.nat(20_000), { nil: undefined }) }),
  fc.record({ kind: fc.constant('failure' as const), neverSent: fc.boolean(), aborted: fc.boolean() }),
);
const facts: fc.Arbitrary<RetryFacts> = fc.record({
  outcome: outcomes,
  method: methods,
  bodyReplayable: fc.boolean(),
  triesMade: fc.integer({ min: 1, max: 12 }),
  retries: fc.integer({ min: 0, max: 10 }),
  retryOn: fc.option(fc.array(fc.integer({ min: 100, max: 599 }), { maxLength: 4 }), { nil: undefined }),
  nonIdempotent: fc.boolean(),
  now: fc.integer({ min: 0, max: 100_000 }),
  deadline: fc.integer({ min: 0, max: 100_000 }),
  pauseMs: fc.nat(2_000),
  budgetAvailable: fc.boolean(),
});

const base: RetryFacts = {
  outcome: { kind: 'response', status: 503 },
  method: 'GET',
  bodyReplayable: true,
  triesMade: 1,
  retries: 2,
  nonIdempotent: false,
  now: 0,
  deadline: 10_000,
  pauseMs: 10,
  budgetAvailable: true,
};

describe('the retry decision', () => {
  it('retries an idempotent call after a 5xx, within tries, deadline and budget, after the given pause', () => {
    assert.deepEqual(decideRetry(base), { retry: true, pauseMs: 10 });
  });

  it('never retries more than `retries` times, past the deadline, or without budget', () => {
    fc.assert(
      fc.property(facts, (f) => {
        const decision = decideRetry(f);
        if (!decision.retry) return;
        assert.ok(f.triesMade <= f.retries, 'a retry stays within the retries allowed');
        assert.ok(f.now + decision.pauseMs < f.deadline, 'the pause ends before the deadline');
        assert.ok(f.budgetAvailable, 'the budget had a retry to give');
        assert.ok(isRetryableOutcome(f));
      }),
    );
  });

  it('never sends again a request that may have reached an instance unless its method is idempotent or nonIdempotent is set', () => {
    fc.assert(
      fc.property(facts, (f) => {
        const mayHaveBeenSent = f.outcome.kind === 'response' || !f.outcome.neverSent;
        const idempotent = ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE'].includes(f.method.toUpperCase());
        if (mayHaveBeenSent && !idempotent && !f.nonIdempotent) assert.equal(decideRetry(f).retry, false);
      }),
    );
  });

  it('never retries a stream body that may have been read, nor a call the caller aborted', () => {
    fc.assert(
      fc.property(facts, (f) => {
        const mayHaveBeenRead = f.outcome.kind === 'response' || !f.outcome.neverSent;
        if (mayHaveBeenRead && !f.bodyReplayable) assert.equal(decideRetry(f).retry, false);
        if (f.outcome.kind === 'failure' && f.outcome.aborted === true) assert.equal(decideRetry(f).retry, false);
      }),
    );
  });

  it('retries even a POST with a stream body when it certainly was not sent (connection refused)', () => {
    const decision = decideRetry({ ...base, method: 'POST', bodyReplayable: false, outcome: { kind: 'failure', neverSent: true } });
    assert.equal(decision.retry, true);
  });

  it('says why it stops, and whether the outcome was retryable', () => {
    assert.deepEqual(decideRetry({ ...base, outcome: { kind: 'response', status: 404 } }), { retry: false, reason: 'not retryable', retryable: false });
    assert.deepEqual(decideRetry({ ...base, triesMade: 3 }), { retry: false, reason: 'no retries left', retryable: true });
    assert.deepEqual(decideRetry({ ...base, now: 9_995 }), { retry: false, reason: 'deadline', retryable: true });
    assert.deepEqual(decideRetry({ ...base, budgetAvailable: false }), { retry: false, reason: 'retry budget spent', retryable: true });
  });

  it('follows retryOn instead of the default statuses, and never retries 501 or 505 by default', () => {
    assert.equal(decideRetry({ ...base, outcome: { kind: 'response', status: 429 }, retryOn: [429] }).retry, true);
    assert.equal(decideRetry({ ...base, outcome: { kind: 'response', status: 503 }, retryOn: [429] }).retry, false);
    assert.equal(decideRetry({ ...base, outcome: { kind: 'response', status: 501 } }).retry, false);
    assert.equal(decideRetry({ ...base, outcome: { kind: 'response', status: 505 } }).retry, false);
  });

  it('is a pure function: the same facts give the same decision', () => {
    fc.assert(fc.property(facts, (f) => assert.deepEqual(decideRetry(f), decideRetry(structuredClone(f)))));
  });
});
