import { FarolError } from '../errors.js';

/**
 * Which log lines of a noisy source get written: the first `perWindow` per key (a client address)
 * in each window of `windowMs` (windows are fixed slots of the clock: [k·windowMs, (k+1)·windowMs)),
 * then nothing but one summary of how many were left out, written once that window is over.
 * So a caller that sends a million bad logins a minute costs `perWindow` + 1 lines a minute, and
 * whoever reads the log still learns that it happened and how much.
 *
 * Pure: the caller gives the time and writes the lines it is told to.
 *
 * Memory is bounded by `maxKeys` tracked keys. A key is forgotten (its summary due) once its
 * window is over; when the table is full of keys still in the current window, further keys share
 * one overflow bucket (key OVERFLOW_KEY) with the same allowance, rather than pushing out a
 * tracked key, which would hand that key a fresh allowance within the same window. Keys are kept
 * in the order their window began, so freeing space costs only the keys freed.
 *
 * The guarantee (tested as a property): for every key, within any one window, at most
 * `perWindow` lines are let through plus at most one summary (of an earlier window).
 */
export interface LineRateLimitOptions {
  /** Lines let through per key and window. Default 20. */
  perWindow?: number;
  /** Default 60,000 ms. */
  windowMs?: number;
  /** Keys tracked at once; beyond that, new keys share the overflow bucket. Default 10,000. */
  maxKeys?: number;
}

export const LINE_RATE_LIMIT_DEFAULTS = { perWindow: 20, windowMs: 60_000, maxKeys: 10_000 } as const;

/** The key the lines of untracked keys are counted under while the table is full. */
export const OVERFLOW_KEY = '*';

/** Lines left out for `key` in the window that started at `windowStart`. */
export interface SuppressedSummary {
  key: string;
  suppressed: number;
  windowStart: number;
  windowMs: number;
}

export interface LineDecision {
  /** Write the line. */
  write: boolean;
  /** The key the line was counted under: the given one, or OVERFLOW_KEY. */
  countedAs: string;
  /** Summaries now due (ended windows), to write before the line. */
  summaries: SuppressedSummary[];
}

export interface LineRateLimiter {
  decide(key: string, now: number): LineDecision;
  /** Summaries of every window ended by `now` (all of them with now = Infinity, e.g. on close); forgets those keys. */
  flush(now: number): SuppressedSummary[];
  /** Keys with lines left out and not yet summarised. */
  readonly pending: number;
  /** Keys tracked (the overflow bucket included when in use). */
  readonly size: number;
}

interface KeyState {
  window: number;
  written: number;
  suppressed: number;
}

export function createLineRateLimiter(opts: LineRateLimitOptions = {}): LineRateLimiter {
  const perWindow = opts.perWindow ?? LINE_RATE_LIMIT_DEFAULTS.perWindow;
  const windowMs = opts.windowMs ?? LINE_RATE_LIMIT_DEFAULTS.windowMs;
  const maxKeys = opts.maxKeys ?? LINE_RATE_LIMIT_DEFAULTS.maxKeys;
  for (const [name, value] of [['perWindow', perWindow], ['windowMs', windowMs], ['maxKeys', maxKeys]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new FarolError('CONFIG_INVALID', `invalid log rate limit option ${name}: ${value}`, { hint: 'give whole numbers ≥ 1 (windowMs in milliseconds)' });
    }
  }
  // Insertion order = the order windows began: re-inserted whenever a key moves to a new window.
  const states = new Map<string, KeyState>();
  let overflow: KeyState | undefined;
  let pending = 0;

  const windowOf = (now: number): number => Math.floor(now / windowMs);
  const summaryOf = (key: string, state: KeyState): SuppressedSummary => ({
    key,
    suppressed: state.suppressed,
    windowStart: state.window * windowMs,
    windowMs,
  });
  /** Ends `state`'s window: its summary, if lines were left out. */
  const close = (key: string, state: KeyState, into: SuppressedSummary[]): void => {
    if (state.suppressed === 0) return;
    into.push(summaryOf(key, state));
    pending -= 1;
    state.suppressed = 0;
  };
  const count = (state: KeyState): boolean => {
    if (state.written < perWindow) {
      state.written += 1;
      return true;
    }
    if (state.suppressed === 0) pending += 1;
    state.suppressed += 1;
    return false;
  };
  /** Forgets keys whose window ended before `window`, oldest first, collecting their summaries. */
  const expire = (window: number, into: SuppressedSummary[]): void => {
    for (const [key, state] of states) {
      if (state.window >= window) break;
      close(key, state, into);
      states.delete(key);
    }
    if (overflow !== undefined && overflow.window < window) {
      close(OVERFLOW_KEY, overflow, into);
      overflow = undefined;
    }
  };

  return {
    decide(key, now) {
      const window = windowOf(now);
      const summaries: SuppressedSummary[] = [];
      let state = states.get(key);
      if (state !== undefined && state.window < window) {
        close(key, state, summaries);
        states.delete(key);
        state = { window, written: 0, suppressed: 0 };
        states.set(key, state);
      }
      if (state === undefined) {
        if (states.size >= maxKeys) expire(window, summaries);
        if (states.size < maxKeys) {
          state = { window, written: 0, suppressed: 0 };
          states.set(key, state);
        }
      }
      if (state !== undefined) return { write: count(state), countedAs: key, summaries };
      if (overflow !== undefined && overflow.window < window) {
        close(OVERFLOW_KEY, overflow, summaries);
        overflow = undefined;
      }
      overflow ??= { window, written: 0, suppressed: 0 };
      return { write: count(overflow), countedAs: OVERFLOW_KEY, summaries };
    },
    flush(now) {
      const summaries: SuppressedSummary[] = [];
      expire(now === Infinity ? Infinity : windowOf(now), summaries);
      return summaries;
    },
    get pending() {
      return pending;
    },
    get size() {
      return states.size + (overflow === undefined ? 0 : 1);
    },
  };
}
