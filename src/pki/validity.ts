import { FarolError } from '../errors.js';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/**
 * The longest validity Farol asks for: 100 years. Longer ones overflow JavaScript dates long before
 * X.509's year 9999, and a leaf is cut back to its CA's expiry anyway.
 */
export const MAX_VALIDITY_DAYS = 36_500;

/** How far back notBefore is set, so a peer whose clock runs a little behind still accepts a fresh certificate. */
export const CLOCK_SKEW_MS = MINUTE_MS;

export interface ValidityRequest {
  validityDays?: number;
  notBefore?: Date;
  notAfter?: Date;
}

export interface ValidityWindow {
  notBefore: Date;
  notAfter: Date;
}

/**
 * The validity window of a new certificate. Explicit dates win; otherwise notBefore is a minute in the
 * past and notAfter is `validityDays` after now. An empty or inverted window is CONFIG_INVALID.
 */
export function validityWindow(request: ValidityRequest, defaultDays: number, now: Date = new Date()): ValidityWindow {
  const days = request.validityDays ?? defaultDays;
  if (!Number.isFinite(days) || days <= 0) throw invalid(`Certificate validity must be a positive number of days, got ${days}`);
  if (days > MAX_VALIDITY_DAYS) throw invalid(`Certificate validity must be at most ${MAX_VALIDITY_DAYS} days (100 years), got ${days}`);
  const notBefore = request.notBefore ?? new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = request.notAfter ?? new Date(now.getTime() + days * DAY_MS);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) throw invalid('Certificate validity dates must be valid dates');
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw invalid(`Certificate notAfter (${notAfter.toISOString()}) must be later than notBefore (${notBefore.toISOString()})`);
  }
  return { notBefore, notAfter };
}

function invalid(message: string): FarolError {
  return new FarolError('CONFIG_INVALID', message, { hint: `give --days a whole number from 1 to ${MAX_VALIDITY_DAYS}, or a notAfter later than notBefore` });
}
