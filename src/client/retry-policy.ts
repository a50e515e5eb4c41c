/**
 * Pure rules for when and how soon the client retries a request: which methods are safe to
 * send twice, which statuses are worth another instance, how to read `Retry-After`, and the
 * jittered backoff between attempts. Whether a retry may go at all is the RetryBudget's call.
 */
import { backoffDelay } from '../consul/index.js';

/** RFC 9110 §9.2.2: methods whose intended effect is the same if sent once or many times. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** True for GET, HEAD, OPTIONS, TRACE, PUT, DELETE, in any letter case. POST and PATCH are not. */
export function isIdempotentMethod(method: string): boolean {
  return typeof method === 'string' && IDEMPOTENT_METHODS.has(method.toUpperCase());
}

/**
 * True if a response with this status is worth retrying on another instance. By default every
 * 5xx except 501 Not Implemented and 505 HTTP Version Not Supported, which say the request
 * itself is the problem and would fail the same way anywhere. `retryOn` replaces the default
 * with an explicit list.
 */
export function isRetryableStatus(status: number, retryOn?: readonly number[]): boolean {
  if (!Number.isInteger(status)) return false;
  if (retryOn) return retryOn.includes(status);
  return status >= 500 && status <= 599 && status !== 501 && status !== 505;
}

export interface RetryAfterOptions {
  /** Longer delays are clamped to this, ms. Default 10 000 (the client's default call timeout). */
  maxMs?: number;
}

export const DEFAULT_RETRY_AFTER_MAX_MS = 10_000;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = MONTHS.join('|');
const DAY = 'Mon|Tue|Wed|Thu|Fri|Sat|Sun';
const LONG_DAY = 'Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// RFC 9110 §5.6.7. The grammar is case-sensitive and has single spaces only.
const IMF_FIXDATE = new RegExp(`^(?:${DAY}), (\\d{2}) (${MONTH}) (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(?:${LONG_DAY}), (\\d{2})-(${MONTH})-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:${DAY}) (${MONTH}) ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/** Milliseconds since the epoch for a valid calendar date and time in UTC, else undefined. */
function utc(year: number, month: number, day: number, hour: number, minute: number, second: number): number | undefined {
  if (month < 0 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month, day); // unlike Date.UTC, years 0-99 stay years 0-99
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month || date.getUTCDate() !== day) return undefined; // 31 Feb
  date.setUTCHours(hour, minute, second, 0); // a leap second (60) reads as the next minute
  return date.getTime();
}

/**
 * An HTTP-date (RFC 9110 §5.6.7) as milliseconds since the epoch: the IMF-fixdate every sender
 * must use ("Sun, 06 Nov 1994 08:49:37 GMT") and the two obsolete forms every recipient must
 * still accept, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37
 * 1994"). `nowMs` places RFC 850's two-digit year: one that would be more than 50 years in the
 * future is the most recent past year with those digits. Undefined for anything else.
 * Deliberately strict (no Date.parse, which reads "1" or "Jan 1" as dates).
 */
export function parseHttpDate(value: string, nowMs: number): number | undefined {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utc(Number(m[3]), MONTHS.indexOf(m[2] as string), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = ASCTIME_DATE.exec(value);
  if (m) return utc(Number(m[6]), MONTHS.indexOf(m[1] as string), Number((m[2] as string).trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  m = RFC850_DATE.exec(value);
  if (m) {
    if (!Number.isFinite(nowMs)) return undefined;
    const thisYear = new Date(nowMs).getUTCFullYear();
    let year = thisYear - (thisYear % 100) + Number(m[3]);
    if (year > thisYear + 50) year -= 100;
    return utc(year, MONTHS.indexOf(m[2] as string), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  return undefined;
}

/**
 * The delay a `Retry-After` header asks for (RFC 9110 §10.2.3), in ms from `nowMs`: either
 * delta-seconds ("120") or an HTTP-date. Undefined when there is no usable delay — absent,
 * empty, garbage, negative ("-5"), fractional ("1.5"), several different values, or a date
 * already in the past (with clock skew between hosts a past date says nothing reliable; the
 * caller's own jittered backoff is the better delay then). Delays above `maxMs` are clamped to
 * it: a result of exactly maxMs may mean "longer", and a caller whose deadline is nearer than
 * the delay should not retry at all.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number, options: RetryAfterOptions = {}): number | undefined {
  const maxMs = options.maxMs !== undefined && options.maxMs >= 0 ? options.maxMs : DEFAULT_RETRY_AFTER_MAX_MS;
  let text: string;
  if (typeof value === 'string') {
    text = value;
  } else if (Array.isArray(value) && value.length > 0) {
    // The field is a singleton; repeated identical lines (a proxy's echo) are still one value.
    const first = typeof value[0] === 'string' ? trimOws(value[0]) : undefined;
    if (first === undefined || !value.every((v) => typeof v === 'string' && trimOws(v) === first)) return undefined;
    text = first;
  } else {
    return undefined;
  }
  text = trimOws(text);
  let delayMs: number;
  if (/^\d+$/.test(text)) {
    delayMs = Number(text) * 1000; // 400 digits make Infinity, clamped below
  } else {
    const at = parseHttpDate(text, nowMs);
    if (at === undefined || !Number.isFinite(nowMs)) return undefined;
    delayMs = at - nowMs;
    if (!(delayMs >= 0)) return undefined;
  }
  return Math.min(delayMs, maxMs);
}

/** Leading and trailing optional whitespace (RFC 9110 OWS: spaces and tabs). */
function trimOws(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '');
}

export interface RetryDelayOptions {
  /** Ceiling of the first retry's delay, ms. Default 25. */
  baseMs?: number;
  /** No delay ever exceeds this, ms. Default 1 000. */
  maxMs?: number;
  /** A source of numbers in [0, 1). Default Math.random. */
  random?: () => number;
}

/**
 * Small defaults: a retry goes to another instance, which is probably fine, so waiting long
 * buys little; the jitter is what matters, so clients that failed together do not retry in
 * lockstep.
 */
export const DEFAULT_RETRY_DELAY = { baseMs: 25, maxMs: 1_000 } as const;

/**
 * Delay before retry `attempt` (1 = the first retry), ms: exponential backoff with full jitter
 * (AWS Architecture Blog, "Exponential Backoff And Jitter"), uniform in
 * [0, min(maxMs, baseMs × 2^(attempt-1))), as the Consul watch backs off (consul/backoff.ts), with
 * defaults sized for a retry on another instance.
 */
export function retryDelayMs(attempt: number, options: RetryDelayOptions = {}): number {
  return backoffDelay(attempt, {
    baseMs: nonNegative(options.baseMs, DEFAULT_RETRY_DELAY.baseMs),
    maxMs: nonNegative(options.maxMs, DEFAULT_RETRY_DELAY.maxMs),
    ...(options.random ? { random: options.random } : {}),
  });
}

function nonNegative(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
}
