/**
 * Go durations as Consul reads and writes them: time.ParseDuration and time.Duration.String(),
 * bounded as Go bounds them (int64 nanoseconds), with Go's error texts.
 *
 * Values are bigint nanoseconds: an int64 of nanoseconds does not fit a JS number exactly (2^53 ns
 * is only about 104 days), and exactness at the bounds is what decides whether Go accepts a value.
 * Timers want milliseconds; goDurationMs() converts (|ms| < 2^53 for every int64, so whole
 * milliseconds stay exact) and src/timers/ takes care of delays beyond 2^31-1 ms.
 *
 * Written by hand after Go's src/time/format.go: no npm package bounds or words it as Go does, and
 * the registry answers must match Consul's byte for byte.
 */

/** time.Duration's range. */
export const MAX_GO_DURATION_NS = (1n << 63n) - 1n;
export const MIN_GO_DURATION_NS = -(1n << 63n);

export const NS_PER_MS = 1_000_000n;

/** A string time.ParseDuration refuses; `message` is Go's err.Error() text. */
export class GoDurationError extends Error {
  constructor(
    message: string,
    /** The refused text. */
    readonly input: string,
  ) {
    super(message);
    this.name = 'GoDurationError';
  }
}

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const TWO_63 = 1n << 63n;
const utf8 = new TextEncoder();

/** Go's time.quote: ASCII printable as is (with \" and \\), every other byte as \xNN. */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (code >= 0x80 || code < 0x20) {
      for (const byte of utf8.encode(char)) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    } else {
      out += char === '"' || char === '\\' ? `\\${char}` : char;
    }
  }
  return `${out}"`;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * time.ParseDuration: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` or "0", as int64 nanoseconds.
 * Throws GoDurationError (and nothing else) for what Go refuses, overflow included.
 */
export function parseGoDuration(text: string): bigint {
  const invalid = () => new GoDurationError(`time: invalid duration ${goQuote(text)}`, text);
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalid();
    // leadingInt: an integer part beyond 2^63 is an error.
    let i = 0;
    let whole = 0n;
    for (; isDigit(s[i]); i += 1) {
      if (whole > TWO_63 / 10n) throw invalid();
      whole = whole * 10n + BigInt(s.charCodeAt(i) - 48);
      if (whole > TWO_63) throw invalid();
    }
    const pre = i > 0;
    s = s.slice(i);
    // leadingFraction: digits beyond int64 precision are read but ignored.
    let fraction = 0n;
    let scale = 1; // a float64 in Go, and the product below is computed in float64 as Go does
    let post = false;
    if (s[0] === '.') {
      s = s.slice(1);
      let overflow = false;
      let j = 0;
      for (; isDigit(s[j]); j += 1) {
        if (overflow) continue;
        if (fraction > (TWO_63 - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const next = fraction * 10n + BigInt(s.charCodeAt(j) - 48);
        if (next > TWO_63) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw invalid();
    let u = 0;
    while (u < s.length && s[u] !== '.' && !isDigit(s[u])) u += 1;
    if (u === 0) throw new GoDurationError(`time: missing unit in duration ${goQuote(text)}`, text);
    const unitName = s.slice(0, u);
    s = s.slice(u);
    const unit = UNIT_NS[unitName];
    if (unit === undefined) throw new GoDurationError(`time: unknown unit ${goQuote(unitName)} in duration ${goQuote(text)}`, text);
    if (whole > TWO_63 / unit) throw invalid();
    let value = whole * unit;
    if (fraction > 0n) {
      value += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (value > TWO_63) throw invalid();
    }
    total += value;
    if (total > TWO_63) throw invalid();
  }
  if (negative) return -total;
  if (total > MAX_GO_DURATION_NS) throw invalid();
  return total;
}

/** parseGoDuration without the throw. */
export function tryParseGoDuration(text: string): { ns: bigint } | { error: GoDurationError } {
  try {
    return { ns: parseGoDuration(text) };
  } catch (error) {
    if (error instanceof GoDurationError) return { error };
    throw error;
  }
}

/** Go's `time.Duration(f)` for a float64 (a JSON number): truncated; out of range gives MinInt64 as on amd64. */
export function goDurationFromFloat(value: number): bigint {
  if (!Number.isFinite(value) || value >= 2 ** 63 || value < -(2 ** 63)) return MIN_GO_DURATION_NS;
  return BigInt(Math.trunc(value));
}

/** Milliseconds as a JS number (a fraction for sub-millisecond parts), for timers and options. */
export function goDurationMs(ns: bigint): number {
  const whole = ns / NS_PER_MS;
  return Number(whole) + Number(ns - whole * NS_PER_MS) / 1e6;
}

/** Whole milliseconds as nanoseconds. */
export function msToGoDuration(ms: number): bigint {
  return BigInt(Math.round(ms)) * NS_PER_MS;
}

/** Go's fmtFrac: the fraction of v/10^prec without trailing zeros ("" or ".5"), and v/10^prec. */
function splitFraction(v: bigint, prec: number): [bigint, string] {
  let fraction = '';
  let printed = false;
  for (let i = 0; i < prec; i += 1) {
    const digit = v % 10n;
    printed ||= digit !== 0n;
    if (printed) fraction = `${digit}${fraction}`;
    v /= 10n;
  }
  return [v, printed ? `.${fraction}` : ''];
}

/** time.Duration.String(): "72h3m0.5s", "1.5ms", "0s". Values outside int64 are a RangeError. */
export function formatGoDuration(ns: bigint): string {
  if (ns > MAX_GO_DURATION_NS || ns < MIN_GO_DURATION_NS) throw new RangeError(`${ns} ns is outside Go's time.Duration range`);
  const negative = ns < 0n;
  let u = negative ? -ns : ns;
  let text: string;
  if (u === 0n) return '0s';
  if (u < 1_000_000_000n) {
    const [prec, unit] = u < 1000n ? [0, 'ns'] : u < 1_000_000n ? [3, 'µs'] : [6, 'ms'];
    const [whole, fraction] = splitFraction(u, prec);
    text = `${whole}${fraction}${unit}`;
  } else {
    const [seconds, fraction] = splitFraction(u, 9);
    u = seconds;
    text = `${u % 60n}${fraction}s`;
    u /= 60n;
    if (u > 0n) {
      text = `${u % 60n}m${text}`;
      u /= 60n;
      if (u > 0n) text = `${u}h${text}`;
    }
  }
  return negative ? `-${text}` : text;
}

/** The largest duration Go accepts, as Go prints it: 2562047h47m16.854775807s. */
export const MAX_GO_DURATION_TEXT = formatGoDuration(MAX_GO_DURATION_NS);
