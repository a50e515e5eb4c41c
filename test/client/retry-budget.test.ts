import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_RETRY_BUDGET, RetryBudget } from '../../src/client/retry-budget.js';

function clock(start = 0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** Withdraws until refused; returns how many retries were granted. */
function drain(budget: RetryBudget): number {
  let granted = 0;
  while (budget.tryWithdraw()) granted += 1;
  return granted;
}

describe('retry budget', () => {
  it('defaults to 20 % of requests, a floor of 10 retries a second, over a 10 s window', () => {
    assert.deepEqual(DEFAULT_RETRY_BUDGET, { percentCanRetry: 0.2, minRetriesPerSec: 10, ttlMs: 10_000 });
    const budget = new RetryBudget({ now: clock().now });
    assert.equal(budget.percentCanRetry, 0.2);
    assert.equal(budget.minRetriesPerSec, 10);
    assert.equal(budget.ttlMs, 10_000);
  });

  it('lets a quiet client retry: the floor alone is minRetriesPerSec × ttl seconds', () => {
    const budget = new RetryBudget({ minRetriesPerSec: 2, ttlMs: 5_000, now: clock().now });
    assert.equal(budget.balance(), 10);
    assert.equal(drain(budget), 10);
    assert.equal(budget.balance(), 0);
  });

  it('grants percentCanRetry of the requests on top of the floor', () => {
    const budget = new RetryBudget({ percentCanRetry: 0.2, minRetriesPerSec: 0, now: clock().now });
    assert.equal(budget.tryWithdraw(), false);
    for (let i = 0; i < 4; i += 1) budget.deposit();
    assert.equal(budget.tryWithdraw(), false, 'four requests at 20 % do not pay for a retry');
    budget.deposit();
    assert.equal(budget.tryWithdraw(), true, 'the fifth does');
    for (let i = 0; i < 100; i += 1) budget.deposit();
    assert.equal(budget.balance(), 20);
    assert.equal(drain(budget), 20);
  });

  it('has no binary rounding surprises: 29 % of 100 requests is 29 retries', () => {
    const budget = new RetryBudget({ percentCanRetry: 0.29, minRetriesPerSec: 0, now: clock().now });
    for (let i = 0; i < 100; i += 1) budget.deposit();
    assert.equal(drain(budget), 29);
  });

  it('forgets requests after ttl, so a past burst does not pay for retries now', () => {
    const c = clock();
    const budget = new RetryBudget({ percentCanRetry: 0.5, minRetriesPerSec: 0, ttlMs: 1_000, now: c.now });
    for (let i = 0; i < 10; i += 1) budget.deposit();
    c.advance(999);
    assert.equal(budget.balance(), 5);
    c.advance(1);
    assert.equal(budget.balance(), 0);
    assert.equal(budget.tryWithdraw(), false);
  });

  it('gives the floor back as retries age out of the window', () => {
    const c = clock();
    const budget = new RetryBudget({ percentCanRetry: 0, minRetriesPerSec: 1, ttlMs: 3_000, now: c.now });
    assert.equal(drain(budget), 3);
    c.advance(2_999);
    assert.equal(budget.tryWithdraw(), false);
    c.advance(1);
    assert.equal(drain(budget), 3);
  });

  it('keeps retries to a fraction of the load in an outage, instead of a multiple', () => {
    // 1 000 requests a second, every one fails and wants a retry, for 60 s.
    const c = clock();
    const budget = new RetryBudget({ now: c.now });
    let requests = 0;
    let retries = 0;
    for (let ms = 0; ms < 60_000; ms += 1) {
      budget.deposit();
      requests += 1;
      if (budget.tryWithdraw()) retries += 1;
      c.advance(1);
    }
    // 20 % plus at most one floor (100 retries) per 10 s window.
    assert.ok(retries <= requests * 0.2 + 6 * 100, `${retries} retries for ${requests} requests`);
    assert.ok(retries >= requests * 0.2 - 1, `${retries} retries for ${requests} requests`);
  });

  it('rejects options that make no sense, by name', () => {
    assert.throws(() => new RetryBudget({ percentCanRetry: -0.1 }), /percentCanRetry/);
    assert.throws(() => new RetryBudget({ minRetriesPerSec: Number.NaN }), /minRetriesPerSec/);
    assert.throws(() => new RetryBudget({ ttlMs: 0 }), /ttlMs/);
    assert.throws(() => new RetryBudget({ ttlMs: Infinity }), /ttlMs/);
  });

  it('never grants more than percentCanRetry × requests + minRetriesPerSec × ttl seconds within a window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }).map((p) => p / 100),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 100, max: 20_000 }),
        fc.array(fc.record({ op: fc.constantFrom('deposit', 'retry', 'retry'), gap: fc.double({ min: 0, max: 1, noNaN: true }) }), {
          maxLength: 400,
        }),
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        (percentCanRetry, minRetriesPerSec, ttlMs, ops, start) => {
          const c = clock(start);
          const budget = new RetryBudget({ percentCanRetry, minRetriesPerSec, ttlMs, now: c.now });
          // Spread the operations over less than one window.
          const totalGap = ops.reduce((sum, o) => sum + o.gap, 0) || 1;
          const scale = (ttlMs * 0.999) / totalGap;
          let requests = 0;
          let granted = 0;
          for (const { op, gap } of ops) {
            c.advance(gap * scale);
            if (op === 'deposit') {
              budget.deposit();
              requests += 1;
            } else if (budget.tryWithdraw()) {
              granted += 1;
            }
            assert.ok(budget.balance() >= 0);
          }
          const bound = percentCanRetry * requests + (minRetriesPerSec * ttlMs) / 1000;
          assert.ok(granted <= bound + 1e-9, `${granted} granted, bound ${bound}`);
        },
      ),
    );
  });

  it('over an endless run, the retries of any ttl window were paid for by the requests of the last two windows plus the floor', () => {
    // The weaker, always-true guarantee over an unbounded run: what is granted at time t was
    // paid for by deposits of (t - ttl, t] and the floor, so no window is ever overdrawn by more.
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.constantFrom('deposit', 'retry'), gap: fc.integer({ min: 0, max: 300 }) }), { maxLength: 300 }),
        (ops) => {
          const ttlMs = 1_000;
          const c = clock();
          const budget = new RetryBudget({ percentCanRetry: 0.25, minRetriesPerSec: 2, ttlMs, now: c.now });
          const events: { t: number; op: 'deposit' | 'retry' }[] = [];
          for (const { op, gap } of ops) {
            c.advance(gap);
            if (op === 'deposit') {
              budget.deposit();
              events.push({ t: c.now(), op });
            } else if (budget.tryWithdraw()) {
              events.push({ t: c.now(), op });
            }
          }
          for (const { t } of events) {
            const inWindow = events.filter((e) => e.t > t - ttlMs && e.t <= t);
            const retries = inWindow.filter((e) => e.op === 'retry').length;
            const paying = events.filter((e) => e.op === 'deposit' && e.t > t - 2 * ttlMs && e.t <= t).length;
            assert.ok(retries <= 0.25 * paying + 2, `${retries} retries in the window ending ${t}`);
          }
        },
      ),
    );
  });
});
