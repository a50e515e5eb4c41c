/**
 * When a long-running service warns that its certificate is about to expire. Pure: the caller owns
 * the clock, the timer and the state (the most severe threshold it has already reported for the
 * certificate it serves now; `undefined` again whenever the certificate changes).
 */

const DAY_MS = 86_400_000;

/** The longest delay setTimeout honours; anything longer fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Thresholds, least severe first: 30 days before notAfter, 7 days before, and expiry itself. */
export const EXPIRY_THRESHOLDS = [
  { threshold: '30d', beforeMs: 30 * DAY_MS },
  { threshold: '7d', beforeMs: 7 * DAY_MS },
  { threshold: 'expired', beforeMs: 0 },
] as const;

export type ExpiryThreshold = (typeof EXPIRY_THRESHOLDS)[number]['threshold'];

export interface ExpiryWarning {
  threshold: ExpiryThreshold;
  /** Whole days until notAfter, rounded down; negative once expired. */
  daysLeft: number;
  /** 'warn' before expiry, 'error' after. */
  level: 'warn' | 'error';
  /** One sentence for a log line, e.g. "the certificate expires in 6 days (2027-01-01T00:00:00.000Z)". */
  message: string;
}

function severity(threshold: ExpiryThreshold | undefined): number {
  return threshold === undefined ? -1 : EXPIRY_THRESHOLDS.findIndex((entry) => entry.threshold === threshold);
}

/** Whole days from `now` to `notAfter`, rounded down (so -1 as soon as it has expired). */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
}

/** The most severe threshold `now` has crossed, if any. */
export function crossedThreshold(notAfter: Date, now: Date): ExpiryThreshold | undefined {
  let crossed: ExpiryThreshold | undefined;
  for (const { threshold, beforeMs } of EXPIRY_THRESHOLDS) {
    if (now.getTime() >= notAfter.getTime() - beforeMs) crossed = threshold;
  }
  return crossed;
}

/**
 * The warning to log now, or undefined. It reports the most severe threshold crossed when that is
 * more severe than `alreadyWarned`; the caller then stores its `threshold` as the new
 * `alreadyWarned`. So each threshold is reported at most once, and one whose window was skipped
 * entirely (a service started 5 days before expiry) is covered by the more severe one.
 */
export function expiryWarning(notAfter: Date, now: Date, alreadyWarned: ExpiryThreshold | undefined): ExpiryWarning | undefined {
  const crossed = crossedThreshold(notAfter, now);
  if (crossed === undefined || severity(crossed) <= severity(alreadyWarned)) return undefined;
  const days = daysLeft(notAfter, now);
  const when = notAfter.toISOString();
  if (crossed === 'expired') {
    return { threshold: crossed, daysLeft: days, level: 'error', message: `the certificate expired on ${when}` };
  }
  const left = days === 0 ? 'in less than a day' : `in ${days} day${days === 1 ? '' : 's'}`;
  return { threshold: crossed, daysLeft: days, level: 'warn', message: `the certificate expires ${left} (${when})` };
}

/**
 * Milliseconds until the next threshold not yet reported is crossed: 0 when one is crossed already,
 * undefined when nothing is left to report. Capped at MAX_TIMER_MS, so a caller with a plain
 * setTimeout simply checks again (and gets the rest of the wait) when it fires.
 */
export function msUntilNextExpiryCheck(notAfter: Date, now: Date, alreadyWarned: ExpiryThreshold | undefined): number | undefined {
  const pending = EXPIRY_THRESHOLDS.filter((entry) => severity(entry.threshold) > severity(alreadyWarned));
  if (pending.length === 0) return undefined;
  const next = Math.min(...pending.map((entry) => notAfter.getTime() - entry.beforeMs - now.getTime()));
  return Math.min(Math.max(0, next), MAX_TIMER_MS);
}
