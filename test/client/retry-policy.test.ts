import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_RETRY_AFTER_MAX_MS,
  isIdempotentMethod,
  isRetryableStatus,
  parseHttpDate,
  parseRetryAfter,
  retryDelayMs,
} from '../../src/client/retry-policy.js';

const NOW = Date.UTC(2025, 5, 15, 12, 0, 0); // Sun, 15 Jun 2025 12:00:00 GMT
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** IMF-fixdate as RFC 9110 §5.6.7 writes it (Date#toUTCString produces the same format). */
function imfFixdate(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCFullYear(), 4)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT`;
}

describe('idempotent methods (RFC 9110 §9.2.2)', () => {
  it('are GET, HEAD, OPTIONS, TRACE, PUT and DELETE', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']) assert.equal(isIdempotentMethod(method), true, method);
  });

  it('are recognised in any letter case', () => {
    assert.equal(isIdempotentMethod('get'), true);
    assert.equal(isIdempotentMethod('Delete'), true);
  });

  it('do not include POST, PATCH, CONNECT or unknown methods', () => {
    for (const method of ['POST', 'PATCH', 'CONNECT', 'post', '', 'GETX', ' GET']) assert.equal(isIdempotentMethod(method), false, method);
  });
});

describe('retryable statuses', () => {
  it('are, by default, every 5xx but 501 and 505', () => {
    for (const status of [500, 502, 503, 504, 507, 599]) assert.equal(isRetryableStatus(status), true, String(status));
    for (const status of [501, 505]) assert.equal(isRetryableStatus(status), false, String(status));
  });

  it('do not include successes, redirects, client errors or nonsense', () => {
    for (const status of [200, 204, 301, 400, 401, 404, 429, 499, 600, 503.5, Number.NaN]) {
      assert.equal(isRetryableStatus(status), false, String(status));
    }
  });

  it('are exactly the given list when retryOn is set', () => {
    assert.equal(isRetryableStatus(429, [429, 503]), true);
    assert.equal(isRetryableStatus(503, [429, 503]), true);
    assert.equal(isRetryableStatus(500, [429, 503]), false);
    assert.equal(isRetryableStatus(503, []), false);
  });
});

describe('Retry-After (RFC 9110 §10.2.3)', () => {
  it('reads delta-seconds as a delay in ms', () => {
    assert.equal(parseRetryAfter('0', NOW), 0);
    assert.equal(parseRetryAfter('3', NOW), 3_000);
    assert.equal(parseRetryAfter(' 7\t', NOW), 7_000);
    assert.equal(parseRetryAfter('007', NOW), 7_000);
  });

  it('reads an IMF-fixdate as the time left until then', () => {
    assert.equal(parseRetryAfter('Sun, 15 Jun 2025 12:00:05 GMT', NOW), 5_000);
    assert.equal(parseRetryAfter('Sun, 15 Jun 2025 12:00:05 GMT', NOW + 250), 4_750);
    assert.equal(parseRetryAfter('Sun, 15 Jun 2025 12:00:00 GMT', NOW), 0);
  });

  it('reads the obsolete RFC 850 and asctime forms too', () => {
    assert.equal(parseRetryAfter('Sunday, 15-Jun-25 12:00:02 GMT', NOW), 2_000);
    assert.equal(parseRetryAfter('Sun Jun 15 12:00:04 2025', NOW), 4_000);
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW), Date.UTC(1994, 10, 6, 8, 49, 37));
  });

  it('places a two-digit year more than 50 years ahead in the past century', () => {
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW), Date.UTC(1994, 10, 6, 8, 49, 37));
    assert.equal(parseHttpDate('Thursday, 01-Jan-70 00:00:00 GMT', NOW), Date.UTC(2070, 0, 1));
    assert.equal(parseHttpDate('Thursday, 01-Jan-76 00:00:00 GMT', NOW), Date.UTC(1976, 0, 1));
  });

  it('clamps long delays to maxMs (default 10 s)', () => {
    assert.equal(DEFAULT_RETRY_AFTER_MAX_MS, 10_000);
    assert.equal(parseRetryAfter('3600', NOW), 10_000);
    assert.equal(parseRetryAfter('3600', NOW, { maxMs: 60_000 }), 60_000);
    assert.equal(parseRetryAfter('9'.repeat(400), NOW), 10_000);
    assert.equal(parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT', NOW, { maxMs: 2_000 }), 2_000);
  });

  it('takes a repeated header only when every copy says the same', () => {
    assert.equal(parseRetryAfter(['2'], NOW), 2_000);
    assert.equal(parseRetryAfter(['2', ' 2'], NOW), 2_000);
    assert.equal(parseRetryAfter(['2', '3'], NOW), undefined);
    assert.equal(parseRetryAfter([], NOW), undefined);
  });

  it('gives undefined for anything without a usable delay', () => {
    const bad = [
      undefined,
      '',
      '  ',
      '-5',
      '+5',
      '1.5',
      '1e3',
      '0x10',
      'soon',
      '5 s',
      'Sun, 15 Jun 2025 11:59:59 GMT', // already past
      'Sun, 31 Feb 2025 12:00:00 GMT', // no such day
      'Sun, 15 Jun 2025 24:00:00 GMT',
      'Sun, 15 Jun 2025 12:60:00 GMT',
      'sun, 15 jun 2025 12:00:05 gmt', // the grammar is case-sensitive
      'Sun, 15 Jun 2025 12:00:05 UTC',
      'Sun,  15 Jun 2025 12:00:05 GMT',
      '15 Jun 2025 12:00:05 GMT',
      'Jun 16 2025',
      '2025-06-16T12:00:00Z',
    ];
    for (const value of bad) assert.equal(parseRetryAfter(value, NOW), undefined, JSON.stringify(value));
  });

  it('never throws and never returns a negative or non-finite delay, whatever the header', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 }), fc.constant(undefined)),
        fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.double()),
        (value, now) => {
          const delay = parseRetryAfter(value, now);
          if (delay !== undefined) assert.ok(Number.isFinite(delay) && delay >= 0 && delay <= DEFAULT_RETRY_AFTER_MAX_MS);
        },
      ),
    );
  });

  it('round-trips delta-seconds', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), (seconds) => {
        assert.equal(parseRetryAfter(String(seconds), NOW, { maxMs: Infinity }), seconds * 1000);
      }),
    );
  });

  it('round-trips IMF-fixdates in the future, and rejects them once past', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1, 0, 1), max: Date.UTC(9999, 11, 31) }).map((ms) => Math.floor(ms / 1000) * 1000),
        fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }),
        (at, offset) => {
          const now = at - offset;
          const header = imfFixdate(at);
          assert.equal(parseHttpDate(header, now), at);
          const delay = parseRetryAfter(header, now, { maxMs: Infinity });
          assert.equal(delay, offset >= 0 ? offset : undefined);
        },
      ),
    );
  });

  it('rejects strings that are neither digits nor an HTTP-date', () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !/^[ \t]*\d+[ \t]*$/.test(s) && !/(GMT|\d{4})[ \t]*$/.test(s)),
        (garbage) => {
          assert.equal(parseRetryAfter(garbage, NOW), undefined);
        },
      ),
    );
  });
});

describe('retry delay (exponential backoff, full jitter)', () => {
  it('doubles its ceiling each attempt from baseMs (25 ms) up to maxMs (1 s)', () => {
    const top = () => 0.999_999;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => retryDelayMs(attempt, { random: top })),
      [24, 49, 99, 199, 399, 799, 999, 999],
    );
  });

  it('is uniform between zero and the ceiling: the random draw scales it', () => {
    assert.equal(retryDelayMs(3, { random: () => 0 }), 0);
    assert.equal(retryDelayMs(3, { random: () => 0.5 }), 50);
    assert.equal(retryDelayMs(1, { baseMs: 100, maxMs: 150, random: () => 0.5 }), 50);
    assert.equal(retryDelayMs(4, { baseMs: 100, maxMs: 150, random: () => 0.5 }), 75);
  });

  it('stays within [0, ceiling) whatever the attempt number or random source', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.double()), fc.double(), fc.nat({ max: 5_000 }), fc.nat({ max: 10_000 }), (attempt, r, baseMs, maxMs) => {
        const delay = retryDelayMs(attempt, { baseMs, maxMs, random: () => r });
        assert.ok(Number.isInteger(delay) && delay >= 0, String(delay));
        assert.ok(delay <= Math.max(0, maxMs - 1), `${delay} above maxMs ${maxMs}`);
        if (!(attempt >= 2)) assert.ok(delay <= Math.max(0, baseMs - 1), `${delay} above baseMs ${baseMs} on attempt ${attempt}`);
      }),
    );
  });
});
