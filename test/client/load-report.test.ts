import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatReport, percentile, summarize, type CallSample } from '../../src/client/load-report.js';

const ok = (instance: string, latencyMs: number, attempts = 1): CallSample => ({ ok: true, instance, status: 200, latencyMs, attempts });

describe('percentile (nearest rank)', () => {
  it('takes the sample at the rank ceil(p × n)', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    assert.equal(percentile(sorted, 50), 5);
    assert.equal(percentile(sorted, 90), 9);
    assert.equal(percentile(sorted, 99), 10);
    assert.equal(percentile(sorted, 0), 1);
  });

  it('is NaN for no samples', () => {
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('is always one of the samples, and rises with p (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (values, p, q) => {
        const sorted = [...values].sort((a, b) => a - b);
        assert.ok(sorted.includes(percentile(sorted, p)));
        const [low, high] = p <= q ? [p, q] : [q, p];
        assert.ok(percentile(sorted, low) <= percentile(sorted, high));
      }),
    );
  });
});

describe('summing up a repeated run', () => {
  it('counts the calls each instance answered, the failures by code and the retried calls', () => {
    const report = summarize(
      [
        ok('a', 1),
        ok('b', 2, 2),
        ok('a', 3),
        { ok: false, code: 'NO_HEALTHY_INSTANCE', latencyMs: 4 },
        { ok: false, instance: 'b', status: 500, code: 'HTTP 500', latencyMs: 5, attempts: 3 },
      ],
      1000,
    );
    assert.equal(report.requests, 5);
    assert.equal(report.failed, 2);
    assert.equal(report.retried, 2);
    assert.deepEqual(report.byInstance, { a: 2, b: 2 });
    assert.deepEqual(report.failures, { NO_HEALTHY_INSTANCE: 1, 'HTTP 500': 1 });
    assert.equal(report.latencyMs.p50, 3);
    assert.equal(report.latencyMs.max, 5);
    assert.equal(report.perSecond, 5);
  });

  it('prints the distribution with shares and the failures', () => {
    const text = formatReport(summarize([ok('api-1', 1), ok('api-2', 1), ok('api-2', 1), { ok: false, code: 'TIMEOUT', latencyMs: 9 }], 2000));
    assert.match(text, /^4 requests in 2\.00 s \(2\/s\), 1 failed, 0 retried$/m);
    assert.match(text, /^ {2}api-1 +1 +25\.0%$/m);
    assert.match(text, /^ {2}api-2 +2 +50\.0%$/m);
    assert.match(text, /^failed: 1 × TIMEOUT$/m);
  });

  it('never loses a call: answered plus unanswered is the total (property)', () => {
    const sample = fc.oneof(
      fc.record({ ok: fc.constant(true as const), instance: fc.constantFrom('a', 'b', 'c'), status: fc.constant(200), latencyMs: fc.nat(1000), attempts: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ ok: fc.constant(false as const), code: fc.constantFrom('TIMEOUT', 'REQUEST_FAILED'), latencyMs: fc.nat(1000) }),
    );
    fc.assert(
      fc.property(fc.array(sample), (samples) => {
        const report = summarize(samples, 1000);
        const answered = Object.values(report.byInstance).reduce((a, b) => a + b, 0);
        const failedWithoutAnswer = samples.filter((s) => !s.ok).length;
        assert.equal(answered + failedWithoutAnswer, report.requests);
        assert.equal(Object.values(report.failures).reduce((a, b) => a + b, 0), report.failed);
      }),
    );
  });
});
