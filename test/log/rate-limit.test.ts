import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isFarolError } from '../../src/errors.js';
import { createLineRateLimiter, OVERFLOW_KEY, type LineRateLimitOptions, type SuppressedSummary } from '../../src/log/rate-limit.js';

const MINUTE = 60_000;

/** Runs lines through a limiter; returns, per key, what was written in each window (lines and summaries). */
function run(opts: LineRateLimitOptions, steps: { key: string; dt: number }[], windowMs: number) {
  const limiter = createLineRateLimiter(opts);
  let now = 0;
  const written = new Map<string, number>(); // `${key}@${window}` -> lines written
  const count = (key: string, at: number) => {
    const slot = `${key}@${Math.floor(at / windowMs)}`;
    written.set(slot, (written.get(slot) ?? 0) + 1);
  };
  const summaries: SuppressedSummary[] = [];
  let writtenLines = 0;
  for (const step of steps) {
    now += step.dt;
    const decision = limiter.decide(step.key, now);
    assert.ok(limiter.size <= (opts.maxKeys ?? Infinity) + 1, `${limiter.size} keys tracked with maxKeys ${opts.maxKeys}`);
    for (const summary of decision.summaries) {
      count(summary.key, now);
      summaries.push(summary);
    }
    if (decision.write) {
      writtenLines += 1;
      // A written line names its real address; overflow lines are also counted for the bucket.
      count(step.key, now);
      if (decision.countedAs === OVERFLOW_KEY) count(OVERFLOW_KEY, now);
    }
    if (step.dt % 7 === 0) {
      for (const summary of limiter.flush(now)) {
        count(summary.key, now);
        summaries.push(summary);
      }
    }
  }
  summaries.push(...limiter.flush(Infinity));
  return { written, summaries, writtenLines, limiter };
}

describe('log line rate limit (per client address)', () => {
  it('writes the first N lines of an address in a window, then one summary when the window is over', () => {
    const limiter = createLineRateLimiter({ perWindow: 3, windowMs: MINUTE });
    const decisions = Array.from({ length: 10 }, (_, i) => limiter.decide('192.0.2.7', 1000 + i));
    assert.deepEqual(decisions.map((d) => d.write), [true, true, true, false, false, false, false, false, false, false]);
    assert.ok(decisions.every((d) => d.summaries.length === 0));
    assert.ok(limiter.decide('192.0.2.8', 2000).write, 'another address has its own allowance');
    assert.equal(limiter.pending, 1);
    assert.deepEqual(limiter.flush(MINUTE - 1), [], 'nothing is due before the window is over');
    assert.deepEqual(limiter.flush(MINUTE), [{ key: '192.0.2.7', suppressed: 7, windowStart: 0, windowMs: MINUTE }]);
    assert.equal(limiter.pending, 0);
    assert.equal(limiter.size, 0, 'ended windows are forgotten');
  });

  it('gives the summary with the first line of the next window when the address comes back first', () => {
    const limiter = createLineRateLimiter({ perWindow: 1, windowMs: MINUTE });
    limiter.decide('198.51.100.1', 0);
    limiter.decide('198.51.100.1', 1);
    const next = limiter.decide('198.51.100.1', MINUTE + 5);
    assert.equal(next.write, true);
    assert.deepEqual(next.summaries, [{ key: '198.51.100.1', suppressed: 1, windowStart: 0, windowMs: MINUTE }]);
    assert.deepEqual(limiter.flush(Infinity), []);
  });

  it('tracks at most maxKeys addresses; the rest share one overflow allowance, and ended windows make room again', () => {
    const limiter = createLineRateLimiter({ perWindow: 2, windowMs: MINUTE, maxKeys: 2 });
    assert.equal(limiter.decide('a', 0).countedAs, 'a');
    assert.equal(limiter.decide('b', 0).countedAs, 'b');
    const others = ['c', 'd', 'e', 'f'].map((key) => limiter.decide(key, 10));
    assert.deepEqual(others.map((d) => [d.countedAs, d.write]), [[OVERFLOW_KEY, true], [OVERFLOW_KEY, true], [OVERFLOW_KEY, false], [OVERFLOW_KEY, false]]);
    assert.equal(limiter.size, 3);
    const later = limiter.decide('c', MINUTE);
    assert.equal(later.countedAs, 'c', 'a new window frees the table');
    assert.deepEqual(later.summaries, [{ key: OVERFLOW_KEY, suppressed: 2, windowStart: 0, windowMs: MINUTE }]);
  });

  it('refuses options that are not whole numbers ≥ 1', () => {
    for (const opts of [{ perWindow: 0 }, { windowMs: 1.5 }, { maxKeys: -1 }]) {
      assert.throws(() => createLineRateLimiter(opts), (error) => isFarolError(error, 'CONFIG_INVALID'));
    }
  });

  const steps = fc.array(
    fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'e'), dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 3000 })) }),
    { maxLength: 400 },
  );
  const limits = fc.record({ perWindow: fc.integer({ min: 1, max: 5 }), maxKeys: fc.integer({ min: 1, max: 6 }) });

  it('never writes more than N + 1 lines for an address (or the overflow bucket) in any window, whatever the sequence', () => {
    fc.assert(
      fc.property(steps, limits, (sequence, { perWindow, maxKeys }) => {
        const windowMs = 1000;
        const { written } = run({ perWindow, maxKeys, windowMs }, sequence, windowMs);
        for (const [slot, lines] of written) assert.ok(lines <= perWindow + 1, `${slot}: ${lines} lines with N = ${perWindow}`);
      }),
      { numRuns: 300 },
    );
  });

  it('loses no count: lines written plus lines summarised is every line offered, and memory stays bounded', () => {
    fc.assert(
      fc.property(steps, limits, (sequence, { perWindow, maxKeys }) => {
        const { summaries, writtenLines, limiter } = run({ perWindow, maxKeys, windowMs: 1000 }, sequence, 1000);
        const suppressed = summaries.reduce((sum, summary) => sum + summary.suppressed, 0);
        assert.equal(writtenLines + suppressed, sequence.length);
        assert.ok(summaries.every((summary) => summary.suppressed > 0));
        assert.equal(limiter.size, 0);
        assert.equal(limiter.pending, 0);
      }),
      { numRuns: 300 },
    );
  });
});
