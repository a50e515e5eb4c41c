import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  formatGoDuration,
  goDurationFromFloat,
  goDurationMs,
  GoDurationError,
  goQuote,
  MAX_GO_DURATION_NS,
  MAX_GO_DURATION_TEXT,
  MIN_GO_DURATION_NS,
  parseGoDuration,
  tryParseGoDuration,
} from '../../src/consul-wire/duration.js';

/**
 * What Go's time.ParseDuration and Duration.String() answer for tricky inputs: one JSON line per
 * input, written by a 20-line Go program (go 1.26, the toolchain that builds the test Consul).
 */
const GO_ANSWERS = readFileSync(new URL('./go-parse-duration.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { in: string; ns?: string; str?: string; err?: string });

describe('Go durations: time.ParseDuration', () => {
  it('reads the forms Consul accepts for wait, Interval and TTL, as int64 nanoseconds', () => {
    assert.equal(parseGoDuration('10s'), 10_000_000_000n);
    assert.equal(parseGoDuration('1m30s'), 90_000_000_000n);
    assert.equal(parseGoDuration('1.5h'), 5_400_000_000_000n);
    assert.equal(parseGoDuration('1500us'), 1_500_000n);
    assert.equal(parseGoDuration('-1.5s'), -1_500_000_000n);
    assert.equal(parseGoDuration('0'), 0n);
    assert.equal(parseGoDuration('720h'), 2_592_000_000_000_000n);
  });

  it(`answers exactly as Go does for ${GO_ANSWERS.length} edge cases (bounds, overflow, fractions, units, quoting)`, () => {
    for (const answer of GO_ANSWERS) {
      const parsed = tryParseGoDuration(answer.in);
      if (answer.err !== undefined) {
        assert.ok('error' in parsed, `${JSON.stringify(answer.in)} is refused`);
        assert.equal(parsed.error.message, answer.err);
        assert.equal(parsed.error.input, answer.in);
      } else {
        assert.ok('ns' in parsed, `${JSON.stringify(answer.in)} is accepted: ${'error' in parsed ? parsed.error.message : ''}`);
        assert.equal(parsed.ns, BigInt(answer.ns as string), answer.in);
        assert.equal(formatGoDuration(parsed.ns), answer.str, answer.in);
      }
    }
  });

  it('refuses what overflows int64 nanoseconds, with Go\'s text', () => {
    assert.throws(() => parseGoDuration('999999999h'), new GoDurationError('time: invalid duration "999999999h"', '999999999h'));
    assert.equal(parseGoDuration('2562047h47m16.854775807s'), MAX_GO_DURATION_NS);
    assert.equal(parseGoDuration('-2562047h47m16.854775808s'), MIN_GO_DURATION_NS);
    assert.equal(MAX_GO_DURATION_TEXT, '2562047h47m16.854775807s');
  });

  it('quotes as Go\'s time.quote does: non-ASCII and control bytes as \\xNN', () => {
    assert.equal(goQuote('5µ'), '"5\\xc2\\xb5"');
    assert.equal(goQuote('a"b\\c\td'), '"a\\"b\\\\c\\x09d"');
  });
});

describe('Go durations: Duration.String()', () => {
  it('formats as Go does', () => {
    const cases: [bigint, string][] = [
      [0n, '0s'],
      [1n, '1ns'],
      [1_500n, '1.5µs'],
      [250_000_000n, '250ms'],
      [90_000_000_000n, '1m30s'],
      [3_600_000_000_000n, '1h0m0s'],
      [2_592_000_000_000_000n, '720h0m0s'],
      [-1_500_000_000n, '-1.5s'],
      [MIN_GO_DURATION_NS, '-2562047h47m16.854775808s'],
    ];
    for (const [ns, text] of cases) assert.equal(formatGoDuration(ns), text, String(ns));
  });

  it('refuses values outside int64', () => {
    assert.throws(() => formatGoDuration(MAX_GO_DURATION_NS + 1n), RangeError);
  });
});

describe('Go durations: numbers and milliseconds', () => {
  it('reads a JSON number as Go\'s time.Duration(float64): truncated, out of range as MinInt64', () => {
    assert.equal(goDurationFromFloat(1e9), 1_000_000_000n);
    assert.equal(goDurationFromFloat(1.9), 1n);
    assert.equal(goDurationFromFloat(1e30), MIN_GO_DURATION_NS);
  });

  it('converts to milliseconds without losing whole milliseconds', () => {
    assert.equal(goDurationMs(2_592_000_000_000_000n), 2_592_000_000);
    assert.equal(goDurationMs(1_500n), 0.0015);
    assert.equal(Math.trunc(goDurationMs(MAX_GO_DURATION_NS)), 9_223_372_036_854);
  });
});

const int64 = fc.bigInt({ min: MIN_GO_DURATION_NS, max: MAX_GO_DURATION_NS });

describe('Go durations: properties', () => {
  it('format then parse gives the value back, for every int64', () => {
    fc.assert(
      fc.property(int64, (ns) => {
        assert.equal(parseGoDuration(formatGoDuration(ns)), ns);
      }),
      { numRuns: 2000 },
    );
  });

  it('parse throws nothing but GoDurationError, whatever the text', () => {
    const durationish = fc.stringMatching(/^[-+]?(\d{0,22}(\.\d{0,25})?(ns|us|µs|μs|ms|s|m|h|x|)){0,4}$/);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), durationish), (text) => {
        const parsed = tryParseGoDuration(text); // rethrows anything that is not a GoDurationError
        if ('ns' in parsed) assert.ok(parsed.ns >= MIN_GO_DURATION_NS && parsed.ns <= MAX_GO_DURATION_NS, text);
        else assert.ok(parsed.error instanceof GoDurationError && parsed.error.message.startsWith('time: '), text);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses every value beyond int64, in any unit', () => {
    const units: [string, bigint][] = [['ns', 1n], ['us', 1_000n], ['ms', 1_000_000n], ['s', 1_000_000_000n], ['m', 60_000_000_000n], ['h', 3_600_000_000_000n]];
    fc.assert(
      fc.property(fc.constantFrom(...units), fc.bigInt({ min: 1n, max: 1n << 70n }), fc.boolean(), ([unit, scale], extra, negative) => {
        const count = (negative ? -MIN_GO_DURATION_NS : MAX_GO_DURATION_NS) / scale + extra; // beyond the bound in whole units
        const text = `${negative ? '-' : ''}${count}${unit}`;
        assert.throws(() => parseGoDuration(text), GoDurationError, text);
      }),
      { numRuns: 1000 },
    );
  });
});
