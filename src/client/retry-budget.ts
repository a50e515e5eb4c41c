/**
 * A retry budget in the manner of Finagle's `RetryBudget`: every original request deposits,
 * every retry withdraws, and both are forgotten after `ttlMs`. Within any window of `ttlMs`
 * the retries granted never exceed
 *
 *     percentCanRetry × requests + minRetriesPerSec × ttlMs / 1000
 *
 * so when a whole fleet is failing, retries add at most a fixed fraction to the load instead
 * of multiplying it (a retry storm) — unlike a per-request "retry up to 3 times", which triples
 * the load on a service that is already drowning.
 *
 * Why the floor (`minRetriesPerSec`): the percentage alone only pays for retries out of recent
 * traffic. A client that sends few requests — one `farol call`, a service that calls another
 * once a minute, any client just after it started — would have nothing in the bank, so its one
 * request that met a dead instance could never fail over to a live one. The floor gives every
 * client a small reserve of `minRetriesPerSec × ttl` retries per window regardless of traffic.
 * It is a fixed amount, not a multiple of the load, so it cannot feed a storm; at high traffic
 * the percentage is what limits. (Set it to 0 for a pure ratio.)
 *
 * Pure: the clock is injected. Bookkeeping is in 100 slices per window, so memory stays small
 * whatever the request rate. Deposits are filed in the slice they fall in and so may expire up
 * to one slice early; withdrawals are filed in the next slice and so never expire early. Both
 * roundings err on the side of granting fewer retries, never more.
 */
export interface RetryBudgetOptions {
  /** Retries allowed per original request, on top of the floor. Default 0.2 (20 %). */
  percentCanRetry?: number;
  /** The floor: retries allowed per second of the window even without traffic. Default 10. */
  minRetriesPerSec?: number;
  /** How long a deposit or a withdrawal counts, ms. Default 10 000. */
  ttlMs?: number;
  /** Milliseconds, monotonic. Default performance.now. */
  now?: () => number;
}

export const DEFAULT_RETRY_BUDGET = { percentCanRetry: 0.2, minRetriesPerSec: 10, ttlMs: 10_000 } as const;

/** One withdrawal, in the budget's integer units (a deposit is a fraction of it). */
const WITHDRAWAL = 1_000_000;
const SLICES_PER_WINDOW = 100;

interface Slice {
  key: number;
  count: number;
}

/** A queue of (slice, count) in rising slice order, with a running total. */
class SlicedCounter {
  private readonly slices: Slice[] = [];
  private head = 0;
  total = 0;

  add(key: number): void {
    const tail = this.slices[this.slices.length - 1];
    // A clock that steps back files into the newest slice rather than out of order.
    if (tail && this.slices.length > this.head && tail.key >= key) tail.count += 1;
    else this.slices.push({ key, count: 1 });
    this.total += 1;
  }

  /** Drops every slice whose key is at most `lastExpiredKey`. */
  expire(lastExpiredKey: number): void {
    while (this.head < this.slices.length && (this.slices[this.head] as Slice).key <= lastExpiredKey) {
      this.total -= (this.slices[this.head] as Slice).count;
      this.head += 1;
    }
    if (this.head > 64 && this.head * 2 > this.slices.length) {
      this.slices.splice(0, this.head);
      this.head = 0;
    }
  }
}

export class RetryBudget {
  readonly percentCanRetry: number;
  readonly minRetriesPerSec: number;
  readonly ttlMs: number;
  private readonly now: () => number;
  private readonly sliceMs: number;
  /** Units one deposit adds: floor(percent × WITHDRAWAL), never more than the percentage. */
  private readonly depositUnits: number;
  /** Units always available: floor(minRetriesPerSec × ttl seconds × WITHDRAWAL). */
  private readonly reserveUnits: number;
  private readonly deposits = new SlicedCounter();
  private readonly withdrawals = new SlicedCounter();

  constructor(options: RetryBudgetOptions = {}) {
    this.percentCanRetry = checked('percentCanRetry', options.percentCanRetry ?? DEFAULT_RETRY_BUDGET.percentCanRetry, 0);
    this.minRetriesPerSec = checked('minRetriesPerSec', options.minRetriesPerSec ?? DEFAULT_RETRY_BUDGET.minRetriesPerSec, 0);
    this.ttlMs = checked('ttlMs', options.ttlMs ?? DEFAULT_RETRY_BUDGET.ttlMs, Number.MIN_VALUE);
    this.now = options.now ?? (() => performance.now());
    this.sliceMs = this.ttlMs / SLICES_PER_WINDOW;
    // The tiny epsilon only absorbs binary rounding (0.29 × 1e6 = 289999.99999999994).
    this.depositUnits = Math.floor(this.percentCanRetry * WITHDRAWAL + 1e-6);
    this.reserveUnits = Math.floor(((this.minRetriesPerSec * this.ttlMs) / 1000) * WITHDRAWAL + 1e-6);
  }

  /** Call once per original request (not per retry). */
  deposit(): void {
    const t = this.advance();
    this.deposits.add(Math.floor(t / this.sliceMs));
  }

  /** Call before each retry: true (and the retry is paid for) if it may go, false if not. */
  tryWithdraw(): boolean {
    const t = this.advance();
    if (this.units() < WITHDRAWAL) return false;
    this.withdrawals.add(Math.ceil(t / this.sliceMs));
    return true;
  }

  /** How many retries could go right now. */
  balance(): number {
    this.advance();
    return Math.max(0, Math.floor(this.units() / WITHDRAWAL));
  }

  private units(): number {
    return this.reserveUnits + this.deposits.total * this.depositUnits - this.withdrawals.total * WITHDRAWAL;
  }

  /** Forgets what is older than the window; returns the current time. */
  private advance(): number {
    const raw = this.now();
    const t = Number.isFinite(raw) ? raw : 0;
    // A slice `key` covers [key, key + 1) × sliceMs; its entries expire at key × sliceMs + ttl.
    const lastExpiredKey = Math.floor((t - this.ttlMs) / this.sliceMs);
    this.deposits.expire(lastExpiredKey);
    this.withdrawals.expire(lastExpiredKey);
    return t;
  }
}

function checked(name: string, value: number, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new RangeError(`RetryBudget: ${name} must be a finite number ${min > 0 ? 'above 0' : 'of at least 0'}, got ${String(value)}`);
  }
  return value;
}
