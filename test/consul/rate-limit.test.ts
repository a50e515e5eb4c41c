import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TokenBucket } from '../../src/consul/rate-limit.js';

describe('token bucket pacing the watch loop', () => {
  it('lets a burst through at once, then asks to wait one interval per request', () => {
    const bucket = new TokenBucket({ burst: 2, intervalMs: 1000 });
    assert.equal(bucket.take(0), 0);
    assert.equal(bucket.take(0), 0);
    assert.equal(bucket.take(0), 1000);
    assert.equal(bucket.take(1000), 1000);
  });

  it('refills over time up to the burst, never beyond', () => {
    const bucket = new TokenBucket({ burst: 2, intervalMs: 1000 });
    bucket.take(0);
    bucket.take(0);
    assert.equal(bucket.take(60_000), 0);
    assert.equal(bucket.take(60_000), 0);
    assert.equal(bucket.take(60_000), 1000);
  });

  it('never delays when the interval is 0', () => {
    const bucket = new TokenBucket({ burst: 1, intervalMs: 0 });
    for (let i = 0; i < 10; i += 1) assert.equal(bucket.take(0), 0);
  });

  it('holds a caller that obeys the delays to at most burst + elapsed/interval requests', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 60 }),
        (burst, intervalMs, gaps) => {
          const bucket = new TokenBucket({ burst, intervalMs });
          let now = 0;
          let requests = 0;
          for (const gap of gaps) {
            now += gap;
            now += bucket.take(now);
            requests += 1;
            assert.ok(requests <= burst + now / intervalMs + 1e-9);
          }
        },
      ),
    );
  });
});
