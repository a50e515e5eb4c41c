/**
 * Exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): the delay before retry n is uniform in [0, min(maxMs, baseMs * 2^(n-1))), so many
 * clients that lost Consul at the same moment do not come back in lockstep.
 */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay. Default 250 ms. */
  baseMs?: number;
  /** No delay ever exceeds this. Default 10 000 ms. */
  maxMs?: number;
  /** A source of numbers in [0, 1); injectable for tests. Default Math.random. */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { baseMs: 250, maxMs: 10_000 } as const;

/** The largest delay retry `attempt` (1, 2, 3...) may wait. */
export function backoffCeiling(attempt: number, options: BackoffOptions = {}): number {
  const baseMs = options.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const maxMs = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  if (!(baseMs > 0)) return 0;
  const exponent = Number.isNaN(attempt) ? 0 : Math.max(0, Math.floor(attempt) - 1);
  // 2^exponent overflows to Infinity for huge attempts; Math.min keeps the cap.
  return Math.max(0, Math.min(maxMs, baseMs * 2 ** exponent));
}

/** Delay in whole milliseconds before retry `attempt` (1 = the first retry), below the ceiling. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const random = options.random ?? Math.random;
  const ceiling = backoffCeiling(attempt, options);
  const r = random();
  const fraction = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.min(Math.floor(fraction * ceiling), Math.max(0, Math.ceil(ceiling) - 1));
}
